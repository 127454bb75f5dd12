"""A local API Gateway (REST API, Lambda proxy integration) for the template's ``Api`` events.

Each HTTP request becomes the proxy event API Gateway would send: method,
path and path parameters, query strings (repeated keys in
``multiValueQueryStringParameters``), headers and multi-value headers, binary
bodies base64-encoded. What API Gateway answers by itself comes from the
template too: CORS preflights from the API's ``Cors``, and unmatched routes,
function errors and timeouts from its ``GatewayResponses``. Routes authorized
with ``AWS_IAM`` (the API's ``Auth.DefaultAuthorizer``, unless an event says
``Authorizer: NONE``) need a SigV4 signature by one of the emulator's IAM users,
verified as API Gateway verifies it; the caller goes into
``requestContext.identity`` and a refusal gets the template's gateway response.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.events import api_gateway_event, function_url_event
from infra.local.iam import AuthenticationError, verify_request
from infra.local.runtime import FunctionPool, InvocationError
from infra.template import Template

AccessLog = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Route:
    """One ``Type: Api`` event: a path template (``/api/tasks/{task_id}``), a method, a function,
    and whether callers must sign with SigV4 (``AWS_IAM``)."""

    path: str
    method: str
    function: str
    iam_auth: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path as a regular expression; ``{name}`` is one segment, ``{name+}`` the rest."""
        parts = []
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            single = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                parts.append(f"(?P<{greedy.group(1)}>.+)")
            elif single:
                parts.append(f"(?P<{single.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "/?$")


@dataclass(frozen=True)
class GatewayResponse:
    """What API Gateway sends without calling a function."""

    status: int
    headers: dict[str, str]
    body: bytes


class RestApi:
    """The routes, CORS and gateway responses of one ``AWS::Serverless::Api`` in the template."""

    def __init__(self, template: Template, api_id: str, stage: str) -> None:
        self.stage = stage
        properties = template.resources[api_id].get("Properties", {})
        default_authorizer = properties.get("Auth", {}).get("DefaultAuthorizer", "NONE")
        self.routes: list[Route] = []
        for function_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
            for event in resource.get("Properties", {}).get("Events", {}).values():
                if event.get("Type") != "Api":
                    continue
                event_properties = event.get("Properties", {})
                if event_properties.get("RestApiId", {}).get("Ref", api_id) != api_id:
                    continue
                authorizer = event_properties.get("Auth", {}).get("Authorizer", default_authorizer)
                self.routes.append(
                    Route(
                        event_properties["Path"],
                        event_properties["Method"].upper(),
                        function_id,
                        iam_auth=authorizer == "AWS_IAM",
                    )
                )
        self._cors = {key: _unquote(str(value)) for key, value in template.resolve(properties.get("Cors", {})).items()}
        self._responses: dict[str, Any] = template.resolve(properties.get("GatewayResponses", {}))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method path`` and its path parameters, as API Gateway picks it."""
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
        return None

    def allows_path(self, path: str) -> bool:
        """Whether any route declares ``path`` (for any method)."""
        return any(route.pattern.match(path) for route in self.routes)

    def preflight(self) -> GatewayResponse:
        """The answer to a CORS preflight, from the API's ``Cors`` setting."""
        headers = {
            "Access-Control-Allow-Origin": self._cors.get("AllowOrigin", "*"),
            "Access-Control-Allow-Methods": self._cors.get("AllowMethods", "*"),
            "Access-Control-Allow-Headers": self._cors.get("AllowHeaders", "*"),
        }
        if "MaxAge" in self._cors:
            headers["Access-Control-Max-Age"] = self._cors["MaxAge"]
        return GatewayResponse(200, headers, b"")

    def gateway_response(self, kind: str, status: int, message: str, method: str, path: str) -> GatewayResponse:
        """A gateway response of type ``kind`` (e.g. ``MISSING_AUTHENTICATION_TOKEN``), falling back
        to ``DEFAULT_4XX``/``DEFAULT_5XX`` and then to API Gateway's own ``{"message": ...}``."""
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        spec = self._responses.get(kind) or self._responses.get(fallback)
        if spec is None:
            return GatewayResponse(
                status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
            )
        headers = {
            name: _unquote(str(value)) for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items()
        }
        body = str(spec.get("ResponseTemplates", {}).get("application/json", json.dumps({"message": message})))
        context = {
            "$context.error.messageString": json.dumps(message),
            "$context.error.message": message,
            "$context.httpMethod": method,
            "$context.path": path,  # the local URL has no stage in it
        }
        for variable, value in context.items():
            body = body.replace(variable, value)
        return GatewayResponse(int(spec.get("StatusCode", status)), headers, body.encode())


def _unquote(value: str) -> str:
    """A mapping value of API Gateway's (``"'*'"``) as the header value it stands for."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


class ApiGateway:
    """An HTTP server on ``host:port`` in front of the template's REST API."""

    def __init__(
        self,
        api: RestApi,
        functions: dict[str, FunctionPool],
        host: str,
        port: int,
        access_log: AccessLog,
        region: str = "us-east-1",
        url_paths: dict[str, str] | None = None,
    ) -> None:
        self.api = api
        self.region = region
        # Path prefix → a function reached through its function URL (on AWS, behind CloudFront;
        # there is no local CloudFront, so no CDN cache either): no IAM, payload format 2.0.
        self.url_paths = url_paths or {}
        self.functions = functions
        self.access_log = access_log
        handler = type("Handler", (_RequestHandler,), {"gateway": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="api-gateway", daemon=True)

    @property
    def url(self) -> str:
        """The base URL clients call."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def handle(
        self, method: str, raw_path: str, headers: dict[str, list[str]], body: bytes, client: str
    ) -> GatewayResponse:
        """One request through the gateway: route, invoke, translate the proxy response."""
        split = urlsplit(raw_path)
        path = unquote(split.path) or "/"
        for prefix, function in self.url_paths.items():
            if split.path.startswith(prefix):
                return self._invoke_url(function, method, raw_path, headers, body, client)
        matched = self.api.match(method, path)
        if matched is None:
            if method == "OPTIONS" and self.api.allows_path(path):
                return self.api.preflight()
            return self.api.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", method, path
            )
        route, parameters = matched
        identity: dict[str, str] = {}
        if route.iam_auth:
            flat = {name: values[-1] for name, values in headers.items() if values}
            host = next((value for name, value in flat.items() if name.lower() == "host"), "")
            try:
                identity = verify_request(method, f"http://{host}{raw_path}", flat, body, region=self.region).identity()
            except AuthenticationError as refused:
                return self.api.gateway_response(refused.response_type, 403, refused.message, method, path)
        event = api_gateway_event(
            method,
            path,
            resource=route.path,
            path_parameters=parameters or None,
            query=parse_qs(split.query, keep_blank_values=True) or None,
            headers=headers,
            body=body or None,
            stage=self.api.stage,
            source_ip=client,
            context_path=path,  # no stage in the local URL, as with `sam local start-api`
            domain_name=self.url.split("://", 1)[1],
            identity=identity,
        )
        try:
            result = self.functions[route.function].invoke(event).result
        except InvocationError as error:
            if error.error_type == "Sandbox.Timedout":
                return self.api.gateway_response("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", method, path)
            return self.api.gateway_response("DEFAULT_5XX", 502, "Internal server error", method, path)
        return _proxy_response(result)

    def _invoke_url(
        self, function: str, method: str, raw_path: str, headers: dict[str, list[str]], body: bytes, client: str
    ) -> GatewayResponse:
        host = next((values[-1] for name, values in headers.items() if name.lower() == "host" and values), "localhost")
        event = function_url_event(method, raw_path, headers=headers, body=body or None, source_ip=client, domain=host)
        try:
            result = self.functions[function].invoke(event).result
        except InvocationError:
            # What a function URL answers when its function fails or times out.
            return GatewayResponse(502, {"Content-Type": "application/json"}, b'{"Message": "Internal Server Error"}')
        return _proxy_response(result)


def _proxy_response(result: Any) -> GatewayResponse:
    """A Lambda proxy integration's answer as the HTTP response API Gateway makes of it."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return GatewayResponse(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
    headers = {name: str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(value) for value in values)
    text = str(result.get("body") or "")
    body = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
    return GatewayResponse(int(result["statusCode"]), headers, body)


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body go out in two writes, and on a kept-alive connection
    # Nagle's algorithm would hold the body until the client's delayed ACK of the headers (~40 ms
    # a request on Linux). API Gateway and function URLs do not make their callers wait so.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: dict[str, list[str]] = {}
        for name in self.headers:
            headers.setdefault(name, [])
            headers[name] = [str(value) for value in self.headers.get_all(name, [])]
        # Added by API Gateway to every request it passes on.
        headers["X-Forwarded-For"] = [self.client_address[0]]
        headers["X-Forwarded-Proto"] = ["http"]
        headers["X-Forwarded-Port"] = [str(self.gateway.server.server_port)]
        response = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        payload = response.body
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.gateway.access_log(
            {
                "method": self.command,
                "path": self.path,
                "status": response.status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, …) is routed too, and answered as API Gateway does when
        # no route declares it (http.server would answer 501 by itself).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # the access log replaces http.server's
        pass
