"""moto's server for the local stack, with two of its per-request costs removed.

- **Kept-alive connections.** werkzeug's development server, which moto runs
  on, answers every request with ``Connection: close``, so each SDK call opens a
  TCP connection and the server a thread (S3 and the other services keep
  connections open, and the SDK reuses them across calls and invocations).
  ``KeepAliveHandler`` keeps a connection open when its request was read whole.
- **The service of a host, worked out once.** moto's
  ``DomainDispatcherApplication`` picks a service for each request in
  ``get_backend_for_host``, which lists moto's package directory (a stat of each
  of its ~170 entries) every time it is called, twice a request, under a lock
  that every request takes. The answer for a host never changes while the
  process runs: ``Dispatcher`` keeps it.

What the emulator answers does not change.
"""

from __future__ import annotations

from typing import IO, Any, cast

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
from werkzeug.wsgi import LimitedStream

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


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests.

    werkzeug closes every connection because after a response it reads whatever the
    client still sends, which on a kept-alive connection would be the next request.
    Here the application and that read see the request's own ``Content-Length`` bytes
    and no more; a request whose body was not read whole (or is chunked) still closes.
    """

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    # would hold the body of each later response until the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        """Serve one request on the connection; keep it open if the next request can follow."""
        connection = self.rfile
        length = self.headers.get("Content-Length") or "0"
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        body = LimitedStream(cast(IO[bytes], connection), int(length) if length.isdigit() else 0)
        if chunked or not length.isdigit():
            self.close_connection = True
        else:
            self.rfile = body  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection
        if not body.is_exhausted:
            self.close_connection = True  # the rest of the body did not come while werkzeug waited for it

    def send_header(self, keyword: str, value: str) -> None:
        """Every header but werkzeug's ``Connection: close`` (kept when the client asked to close)."""
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)
