"""Serving the metrics: the ``/metrics`` response, and a server of its own per process.

The HTTP API serves ``/metrics`` for its deployment (`metrics_response`, public as
Prometheus scrapes without a token, listing no uuid, name or secret). With
``[metrics] listen`` set, every service process also runs a `MetricsServer`, so a
compute host or a scheduler that has no HTTP API is scraped all the same.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from prometheus_client.exposition import choose_encoder

from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.metrics.registry import Metrics

__all__ = ["MetricsServer", "metrics_response"]

log = structlog.get_logger(__name__)


def metrics_response(metrics: Metrics, accept: str | None) -> web.Response:
    """The registry's samples in the text format the scraper's ``Accept`` asks for."""
    encode, content_type = choose_encoder(accept or "")
    return web.Response(body=encode(metrics.registry), headers={"Content-Type": content_type})


class MetricsServer(AsyncLifecycle):
    """``GET /metrics`` for `metrics` on `listen` (``HOST:PORT``; port 0: any free one)."""

    def __init__(self, metrics: Metrics, *, listen: str) -> None:
        from nova_lite.api.http.server import parse_listen

        self.metrics = metrics
        self.host, self.port = parse_listen(listen)
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        state = "serving" if self._runner is not None else "stopped"
        return f"<MetricsServer {self.url} {state}>"

    @property
    def url(self) -> str:
        """Where the metrics are: ``http://HOST:PORT/metrics``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/metrics"

    async def _get(self, request: web.Request) -> web.Response:
        return metrics_response(self.metrics, request.headers.get("Accept"))

    async def start(self) -> None:
        """Start listening; `OSError` if the address cannot be bound."""
        app = web.Application()
        app.router.add_get("/metrics", self._get)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        log.info("metrics.listening", url=self.url)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
