"""``nova-lite demo``: the README's main job.

A whole cloud in one process on the embedded defaults (in-memory broker, SQLite in a
temporary directory, fake hypervisors), booting a few dozen servers across several
hosts, then showing them and the hosts' usage.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nova_lite.api.client import Session
from nova_lite.api.views import Server
from nova_lite.cli.services import load_config
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.log import configure_logging
from nova_lite.process import freeze_after_start, tune_garbage_collector

__all__ = ["demo"]

console = Console()


@click.command()
@click.option("--servers", default=30, show_default=True, help="How many servers to boot.")
@click.option("--computes", default=4, show_default=True, help="How many fake compute hosts.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A TOML configuration file (defaults: in-memory broker, fake driver).",
)
@click.option("--verbose", is_flag=True, help="Show the services' logs.")
def demo(servers: int, computes: int, config_path: str | None, verbose: bool) -> None:
    """Boot SERVERS servers on COMPUTES fake hosts in one process, then show them."""
    configure_logging(level="info" if verbose else "error")
    with tempfile.TemporaryDirectory(prefix="nova-lite-demo-") as state:
        config = load_config(config_path, state_path=state)
        asyncio.run(_demo(config, servers, computes))


async def _demo(config: Config, count: int, computes: int) -> None:
    started = time.perf_counter()
    tune_garbage_collector(config.process)
    async with Cloud(config, computes=computes) as cloud:
        freeze_after_start(config.process)
        console.print(
            f"[bold]nova_lite[/] cloud up: {computes} compute hosts on "
            f"[cyan]{config.transport_url}[/] ({time.perf_counter() - started:.2f}s)"
        )
        session = await cloud.login_admin()
        ctx = await session.context()
        for resource in ("instances", "cores", "ram"):  # the demo project is unlimited
            await cloud.api.conductor.quota_set(ctx, ctx.project_id or "", resource, -1)
        booted = await _boot_with_progress(session, count)
        _print_servers(booted)
        _print_hosts(await session.hosts())
        elapsed = time.perf_counter() - started
        active = sum(s.status == "ACTIVE" for s in booted)
        console.print(f"{active}/{count} servers ACTIVE in {elapsed:.2f}s.")


async def _boot_with_progress(session: Session, count: int) -> list[Server]:
    progress = Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("Booting servers", total=count)
        created = await session.servers.create(
            "demo", flavor="m1.tiny", image="cirros", count=count
        )

        async def wait(server: Server) -> Server:
            done = await session.servers.wait_for(server.id, "ACTIVE", timeout=120)
            progress.advance(task)
            return done

        return list(await asyncio.gather(*(wait(s) for s in created)))


def _print_servers(servers: list[Server]) -> None:
    table = Table(title="Servers")
    for column in ("Name", "Status", "Host", "IP"):
        table.add_column(column)
    for server in sorted(servers, key=lambda s: int(s.name.rsplit("-", 1)[-1])):
        style = "green" if server.status == "ACTIVE" else "red"
        table.add_row(
            server.name, f"[{style}]{server.status}[/]", server.host or "-", server.ip or "-"
        )
    console.print(table)


def _print_hosts(hosts: list[dict[str, Any]]) -> None:
    table = Table(title="Compute hosts")
    for column in ("Host", "State", "Servers", "vCPUs used", "RAM used (MiB)", "Disk used (GiB)"):
        table.add_column(column)
    for host in hosts:
        table.add_row(
            host["host"],
            host["state"],
            str(host["running_vms"]),
            f"{host['vcpus_used']}/{host['vcpus']}",
            f"{host['memory_mb_used']}/{host['memory_mb']}",
            f"{host['local_gb_used']}/{host['local_gb']}",
        )
    console.print(table)
