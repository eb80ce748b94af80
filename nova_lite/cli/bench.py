"""``nova-lite bench <scenario>``: the benchmark harness, from the main command line.

The scenarios live in the ``benchmarks`` package beside ``nova_lite`` (they import
nova_lite, never the reverse); this group finds them only when a ``bench`` command
runs, so the rest of the command line never imports them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["bench"]


def _harness() -> click.Group:
    try:
        module = importlib.import_module("benchmarks.cli")
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"The benchmark harness is not importable ({exc}); run nova-lite from a "
            "source checkout with the bench extra: pip install -e '.[bench]'."
        ) from None
    group: click.Group = module.main
    return group


class BenchGroup(click.Group):
    """A click group whose commands are the benchmark package's, loaded on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_harness().commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _harness().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from benchmarks.common import quiet_logs

        quiet_logs()
        return super().invoke(ctx)


@click.group(cls=BenchGroup)
def bench() -> None:
    """Benchmarks: rpc, boot, scheduler, scale (see benchmarks/README.md)."""
