"""Serving the explorer on a local address, and stopping it cleanly."""
from __future__ import annotations

import ipaddress
import logging
import threading
from typing import Callable

from werkzeug.serving import BaseWSGIServer, make_server

from ..errors import SdclusterError
from .app import create_app
from .session import Explorer

log = logging.getLogger(__name__)

#: Default bind address: this machine only.
LOCALHOST = "127.0.0.1"


class ServerError(SdclusterError):
    """The explorer cannot listen on the requested address."""


def start(explorer: Explorer, host: str = LOCALHOST, port: int = 0) -> BaseWSGIServer:
    """Bind the explorer's app to *host*:*port* (0: a free port) without serving yet.

    Raises
    ------
    ServerError
        When the port is taken or the address is not this machine's.
    """
    if not _is_loopback(host):
        log.warning("serving on %s: anyone who can reach this address can run the model; the default, %s, "
                    "keeps it to this machine", host, LOCALHOST)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    try:
        server = make_server(host, port, create_app(explorer).server, threaded=True)
    except (OSError, SystemExit) as exc:
        raise ServerError(f"cannot listen on {host}:{port}: {exc}; choose another --port (0 picks a free one)") from None
    if _is_loopback(host):
        hosts = {f"{name}:{server.port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        server.app = _only_hosts(server.app, hosts)
    return server


def _only_hosts(app, hosts: set[str]):
    """Refuse requests whose ``Host`` header is not this machine's address (DNS rebinding)."""
    def guarded(environ, start_response):
        if environ.get("HTTP_HOST", "") not in hosts:
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"sdcluster explore answers only to 127.0.0.1 and localhost\n"]
        return app(environ, start_response)
    return guarded


def url(server: BaseWSGIServer) -> str:
    """The address a browser opens."""
    host = server.host if ":" not in server.host else f"[{server.host}]"
    return f"http://{host}:{server.port}/"


def serve(explorer: Explorer, host: str = LOCALHOST, port: int = 0,
          announce: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt), then close the socket and return."""
    server = start(explorer, host, port)
    announce(f"sdcluster explore: open {url(server)} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_in_thread(explorer: Explorer, host: str = LOCALHOST, port: int = 0) -> tuple[BaseWSGIServer, threading.Thread]:
    """Serve in a daemon thread (tests, notebooks); stop with ``server.shutdown()``."""
    server = start(explorer, host, port)
    thread = threading.Thread(target=server.serve_forever, name="sdcluster-explore", daemon=True)
    thread.start()
    return server, thread


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
