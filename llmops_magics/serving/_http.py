"""The HTTP side: a threading HTTP/1.1 server from the standard library over :class:`App`.

Each connection has a thread; generation happens in the engines, so a thread here only reads a
body, waits for its answer and writes it. Nothing a client sends reaches the log (only method,
path and status), and no exception text or stack trace reaches a client.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmops_magics.serving._api import parse_body
from llmops_magics.serving._app import App, Reply, Stream
from llmops_magics.serving._errors import ApiError

__all__ = ["HttpServer"]

log = logging.getLogger("llmops_magics.serving")


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its :class:`App`, API key and body limit."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, api_key: str | None, max_body: int):
        self.app = app
        self.api_key = api_key
        self.max_body = max_body
        self.active = 0
        self.active_lock = threading.Condition()
        self._connections: set[Any] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.active_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.active_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close the kept-alive connections (their threads would serve on after a stop)."""
        with self.active_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being answered; False if ``timeout`` passed first."""
        with self.active_lock:
            return self.active_lock.wait_for(lambda: self.active == 0, timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpServer
    server_version = "llmops-serve"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # the request line holds no body; prompts never reach the log
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        srv = self.server
        with srv.active_lock:
            srv.active += 1
        try:
            self._answer()
        finally:
            with srv.active_lock:
                srv.active -= 1
                srv.active_lock.notify_all()

    def _answer(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            if path != "/health":
                self._authorize()
            result = self.server.app.dispatch(self.command, path, self._body)
        except ApiError as exc:
            self._reply(Reply(exc.status, exc.body()))
            return
        except Exception:
            log.exception("unexpected error on %s %s", self.command, path)
            error = ApiError(500, "The server failed to answer this request.", code="internal")
            self._reply(Reply(500, error.body()))
            return
        if isinstance(result, Stream):
            self._stream(result)
        else:
            self._reply(result)

    def _authorize(self) -> None:
        key = self.server.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        token = given[7:].strip() if given[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), key.encode()):
            raise ApiError(401, "Missing or wrong API key.", code="invalid_api_key")

    def _body(self) -> dict[str, Any]:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
            self.close_connection = True
            raise ApiError(411, "Send the body with a Content-Length header.")
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Content-Length is not a number.") from None
        if size > self.server.max_body:
            self.close_connection = True
            if size <= 16 * self.server.max_body:  # read it, so the client hears the answer
                left = size
                while left > 0 and (chunk := self.rfile.read(min(left, 1 << 16))):
                    left -= len(chunk)
            raise ApiError(
                413,
                f"The body is {size} bytes; this server takes at most {self.server.max_body}.",
                code="body_too_large",
            )
        return parse_body(self.rfile.read(size))

    def _reply(self, reply: Reply) -> None:
        data = reply.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, stream: Stream) -> None:
        self.close_connection = True
        events = stream.events
        try:
            self.send_response(stream.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in events:
                data = event if isinstance(event, str) else json.dumps(event)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            log.info("%s %s: the client went away mid-stream", self.command, self.path)
        finally:
            events_close = getattr(events, "close", None)
            if events_close is not None:
                events_close()
