"""The ``nova-lite`` command line: the demo, running services, and client commands."""

from __future__ import annotations

import click

from nova_lite.cli.bench import bench
from nova_lite.cli.client import (
    audit,
    flavor,
    host,
    image,
    network,
    project,
    server,
    user,
    volume,
)
from nova_lite.cli.demo import demo
from nova_lite.cli.services import all_in_one, service
from nova_lite.cli.simulate import simulate
from nova_lite.cli.trace import server_trace  # noqa: F401  (registers "server trace")

__all__ = ["main"]


@click.group()
@click.version_option(package_name="nova-lite")
def main() -> None:
    """nova_lite: a compact re-implementation of OpenStack Nova's architecture."""


for command in (
    demo,
    service,
    all_in_one,
    server,
    image,
    network,
    volume,
    flavor,
    host,
    project,
    user,
    audit,
    bench,
    simulate,
):
    main.add_command(command)
