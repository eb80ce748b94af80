"""Serving the HTTP API on an address, as a long-lived object with start and stop."""

from __future__ import annotations

import structlog
from aiohttp import web

from nova_lite.api.client import NovaAPI
from nova_lite.api.http.app import create_app
from nova_lite.exceptions import ConfigError
from nova_lite.lifecycle import AsyncLifecycle

__all__ = ["HttpServer", "parse_listen"]

log = structlog.get_logger(__name__)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8774`` for IPv6) as a host and a port; `ConfigError` if bad."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"Cannot listen on {text!r}: give HOST:PORT, for example 0.0.0.0:8774.")
    return host, int(port)


class HttpServer(AsyncLifecycle):
    """The HTTP API of `api` served on `listen` (port 0: any free port) until stopped."""

    def __init__(self, api: NovaAPI, *, listen: str, public_url: str = "") -> None:
        self.api = api
        self.host, self.port = parse_listen(listen)
        self.public_url = public_url
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        state = "serving" if self._runner is not None else "stopped"
        return f"<HttpServer {self.url} {state}>"

    @property
    def url(self) -> str:
        """The base URL to reach this server at (its listen address)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening; `OSError` if the address cannot be bound."""
        app = create_app(self.api, public_url=self.public_url)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = _bound_port(runner, self.port)
        log.info("http.listening", url=self.url)

    async def stop(self) -> None:
        """Stop listening; requests in flight finish first."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()
        log.info("http.stopped", url=self.url)


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
