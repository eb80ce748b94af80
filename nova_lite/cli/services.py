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


@click.command()
@click.argument("name", type=click.Choice(list(SERVICES)))
@click.option("--host", default=None, help="This service's host name (default: [DEFAULT] host).")
@CONFIG_OPTION
def service(name: str, host: str | None, config_path: str | None) -> None:
    """Run one service (NAME) until SIGTERM or SIGINT, then stop it gracefully."""
    config = load_config(config_path, **({"host": host} if host else {}))
    configure_logging(format=config.logging.format, level=config.logging.level)
    _launch(lambda stop: run_service(config, name, config.host, stop))


@click.command("all")
@click.option("--computes", default=3, show_default=True, help="Fake compute hosts to run.")
@CONFIG_OPTION
def all_in_one(computes: int, config_path: str | None) -> None:
    """Run every service in one process, on the configured transport."""
    config = load_config(config_path)
    configure_logging(format=config.logging.format, level=config.logging.level)
    _launch(lambda stop: run_all(config, computes, stop))
