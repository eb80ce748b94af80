"""``nova-lite server trace SERVER``: one server's build or action, across services.

The timeline comes from the server's instance actions and events (over the bus, as
``server actions``), and from the spans of every trace that touched it when the
deployment writes them to a file (``[tracing] exporter = "file"``, or ``--spans``).
It prints a table (milliseconds from the first step, each step's duration, the
service and host that did it); ``--plot FILE.png`` also draws the swimlanes.
"""

from __future__ import annotations

from pathlib import Path

import click

from nova_lite.cli.client import Client, client_command, server
from nova_lite.config import Config
from nova_lite.tracing.timeline import build_timeline, read_span_file, rows, swimlanes

__all__ = ["default_span_file", "server_trace"]

COLUMNS = ("at_ms", "took_ms", "service", "what", "result")


def default_span_file(config: Config) -> Path | None:
    """The span file the deployment writes, if its exporter is ``"file"``."""
    if config.tracing.exporter != "file":
        return None
    return Path(config.tracing.file or Path(config.state_path) / "traces.jsonl")


@client_command(server, "trace")
@click.argument("server_id")
@click.option(
    "--spans",
    "span_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='A span file of [tracing] exporter = "file" (default: the configured one).',
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw the timeline as PNG swimlanes into this file.",
)
async def server_trace(
    client: Client, server_id: str, span_file: Path | None, plot: Path | None
) -> None:
    """The timeline of a server's actions across services (with spans, when traced)."""
    actions = await client.api.servers_actions(client.ctx, server_id)
    path = span_file or default_span_file(client.config)
    spans = read_span_file(path) if path is not None and path.exists() else []
    steps = build_timeline(server_id, actions, spans)
    client.out.rows(rows(steps), COLUMNS)
    if plot is not None:
        swimlanes(steps, plot, title=f"server {server_id}")
        click.echo(f"Swimlanes written to {plot}.", err=True)
