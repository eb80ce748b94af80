"""``nova-lite service <name>`` and ``nova-lite all``: long-running processes."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.launcher import SERVICES, LaunchError, run_all, run_service, stop_on_signals
from nova_lite.log import configure_logging

__all__ = ["all_in_one", "service"]

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="NOVA_LITE_CONFIG",
    default=None,
    help="The TOML configuration file (also NOVA_LITE_CONFIG).",
)


def load_config(config_path: str | None, **overrides: Any) -> Config:
    """The configuration, or exit with status 2 and the reason."""
    try:
        return Config.load(config_path, **overrides)
    except ConfigError as exc:
        click.echo(f"nova-lite: {exc}", err=True)
        sys.exit(2)


async def _until_signalled(run: object) -> None:
    stop = asyncio.Event()
    remove = stop_on_signals(stop)
    try:
        await run(stop)  # type: ignore[operator]
    finally:
        remove()


def _launch(run: object) -> None:
    try:
        asyncio.run(_until_signalled(run))
    except LaunchError as exc:
        click.echo(f"nova-lite: {exc}", err=True)
        sys.exit(exc.status)


LISTEN_OPTION = click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Also serve the OpenStack HTTP API here (default: [api] listen; empty: no HTTP).",
)


@click.command()
@click.argument("name", type=click.Choice(list(SERVICES)))
@click.option("--host", default=None, help="This service's host name (default: [DEFAULT] host).")
@LISTEN_OPTION
@CONFIG_OPTION
def service(name: str, host: str | None, listen: str | None, config_path: str | None) -> None:
    """Run one service (NAME) until SIGTERM or SIGINT, then stop it gracefully.

    The api service with --listen (or [api] listen) also serves the HTTP API.
    """
    if listen is not None and name != "api":
        click.echo("nova-lite: --listen is for the api service only.", err=True)
        sys.exit(2)
    overrides: dict[str, object] = {"host": host} if host else {}
    if listen is not None:
        overrides["api"] = {"listen": listen}
    config = load_config(config_path, **overrides)
    configure_logging(format=config.logging.format, level=config.logging.level)
    _launch(lambda stop: run_service(config, name, config.host, stop))


@click.command("all")
@click.option("--computes", default=3, show_default=True, help="Fake compute hosts to run.")
@LISTEN_OPTION
@CONFIG_OPTION
def all_in_one(computes: int, listen: str | None, config_path: str | None) -> None:
    """Run every service in one process, on the configured transport.

    With --listen (or [api] listen) it also serves the HTTP API.
    """
    config = load_config(config_path, **({"api": {"listen": listen}} if listen else {}))
    configure_logging(format=config.logging.format, level=config.logging.level)
    _launch(lambda stop: run_all(config, computes, stop))
