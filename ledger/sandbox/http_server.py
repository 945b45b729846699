"""A threaded HTTP server on 127.0.0.1 for the API sandboxes, with scripted replies.

The sandbox supplies one function that turns a request into a Reply. The server writes
the reply, and can delay it or reset the connection for fault injection.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """An HTTP response to send, or a connection reset when `reset` is true."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before responding. stop() cuts the wait short.
    delay: float = 0.0
    reset: bool = False


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    """Build a reply with a JSON body."""
    data = json.dumps(body).encode()
    return Reply(status, data, "application/json; charset=utf-8", dict(headers or {}))


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Handler that reads the request body into `body` and sends the server's reply."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body
    # waits for the client's delayed ACK, about 40 ms per response.
    disable_nagle_algorithm = True
    server: _Server
    body: bytes = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        reply = self.server.reply_for(self)
        _write(self, reply, self.server.stopping)

    def log_message(self, format: str, *args: Any) -> None:
        # A request line may carry secrets in its query string: log the path only.
        logger.debug(
            "%s %s %s", self.server.name, self.command, urlsplit(self.path).path
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A handler sleeping in a delayed reply must not hold up stop().
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handle: Callable[[SandboxRequestHandler], Reply],
        name: str,
    ) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.reply_for = handle
        self.name = name
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("%s: request failed", self.name, exc_info=True)


class LocalHTTPServer:
    """Serve `handle` on a loopback IPv4 address from a background thread."""

    def __init__(
        self,
        handle: Callable[[SandboxRequestHandler], Reply],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "sandbox",
    ) -> None:
        address = ipaddress.ip_address(host)
        if not (address.version == 4 and address.is_loopback):
            raise ValueError(f"sandboxes bind only to 127.0.0.1, not {host!r}")
        self._handle = handle
        self.host = host
        self.port = port
        self.name = name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def url(self) -> str:
        """Base URL of the running server, such as http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} is not running: call start() first")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> None:
        """Bind the port and start serving; a running server is left as is."""
        if self._server is not None:
            return
        server = _Server((self.host, self.port), self._handle, self.name)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        logger.debug("%s listening on %s", self.name, self.url)

    def stop(self) -> None:
        """Stop serving and release the port; calling it twice is harmless."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _write(
    handler: BaseHTTPRequestHandler, reply: Reply, stopping: threading.Event
) -> None:
    if reply.delay:
        stopping.wait(reply.delay)
    if reply.reset:
        _reset_connection(handler)
        return

    try:
        handler.send_response(reply.status)
        handler.send_header("X-Request-Id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.content_type:
            handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        # The client gave up, for example after its read timeout on a delayed reply.
        handler.close_connection = True


def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
    # Linger 0 makes close() send a TCP RST instead of a graceful FIN.
    linger = struct.pack("ii", 1, 0)
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    handler.close_connection = True
