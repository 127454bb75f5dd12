"""moto's WSGI dispatcher for the local stack, without its per-request directory scans.

moto's ``DomainDispatcherApplication`` picks a service for each request in
``get_backend_for_host``, which lists moto's package directory (a stat of each of
its ~170 entries) every time it is called, twice a request, under a lock that every
request takes: about a millisecond a request. The answer for a host never changes
while the process runs, so it is kept here. Nothing else of the emulator changes.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

# Hosts are built from what a request's signature names (service and region): keep a bounded number.
_MAX_HOSTS = 256


class Dispatcher(DomainDispatcherApplication):
    """``DomainDispatcherApplication`` with the service of each host worked out once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_of_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        """The service for ``host``, as moto finds it (called under moto's dispatch lock)."""
        if host in self._backend_of_host:
            return self._backend_of_host[host]
        backend = super().get_backend_for_host(host)
        if len(self._backend_of_host) < _MAX_HOSTS:
            self._backend_of_host[host] = backend
        return backend
