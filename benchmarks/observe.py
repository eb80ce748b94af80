"""The telemetry switch of the rpc and boot scenarios: metrics and tracing off or on.

``--observe MODE`` (repeatable) runs nova_lite under each mode, interleaved run by
run, so the cost of each is a same-run ratio against ``off``:

- ``off``: ``[metrics] enabled = false``, ``[tracing] exporter = "none"`` (no
  telemetry bound: each hook is one dictionary look-up);
- ``metrics``: the Prometheus metrics on, tracing off;
- ``tracing``: tracing on, every span written as one JSON line to a file (the
  ``file`` exporter, synchronous), metrics off;
- ``both``: both on;
- ``unhooked``: off, with the RPC hooks' decorators taken out (`unhooked`). Since
  trace-fold the hooks are inline in `Invoker.call`, `Invoker.cast` and the Worker's
  dispatch (one `telemetry.of` look-up and a None test each when off), so there is
  nothing left to take out and ``unhooked`` runs as ``off``: kept for the figures
  and commands of earlier branches, which measured off against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nova_lite.config import Config
from nova_lite.rpc import Invoker, Worker
from nova_lite.telemetry import Telemetry

__all__ = [
    "MODES",
    "concurrent_blocks",
    "label",
    "latency_blocks",
    "overrides",
    "telemetry_for",
    "unhook",
    "unhooked",
]

MODES = ("off", "metrics", "tracing", "both", "unhooked")
_HOOKED = ((Invoker, "call"), (Invoker, "cast"), (Worker, "_dispatch"))


@contextlib.contextmanager
def unhooked(active: bool = True) -> Iterator[None]:
    """While the block runs, Invokers and Workers run without their telemetry hooks."""
    if not active:
        yield
        return
    saved = [(cls, name, cls.__dict__[name]) for cls, name in _HOOKED]
    try:
        for cls, name, method in saved:
            setattr(cls, name, inspect.unwrap(method))
        yield
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)


def overrides(mode: str, directory: str | Path) -> dict[str, Any]:
    """The configuration sections of `mode` (spans into a file under `directory`)."""
    if mode not in MODES:
        raise ValueError(f"Unknown --observe mode {mode!r}; choose one of {', '.join(MODES)}.")
    tracing = mode in ("tracing", "both")
    return {
        "metrics": {"enabled": mode in ("metrics", "both")},
        "tracing": {
            "exporter": "file" if tracing else "none",
            "file": str(Path(directory) / "traces.jsonl"),
        },
    }


def unhook(invoker: Invoker, worker: Worker) -> None:
    """Take the RPC hooks out of one Invoker and one Worker (instance attributes)."""
    for owner, cls, name in ((invoker, Invoker, "call"), (invoker, Invoker, "cast"),
                             (worker, Worker, "_dispatch")):  # fmt: skip
        object.__setattr__(owner, name, inspect.unwrap(cls.__dict__[name]).__get__(owner))


def telemetry_for(mode: str, directory: str | Path) -> Telemetry:
    """A `Telemetry` for `mode`, for contenders that run bare Invokers and Workers."""
    return Telemetry.from_config(Config.load(environ={}, **overrides(mode, directory)))


def label(name: str, mode: str) -> str:
    """A contender's or column's name under `mode` (``off`` keeps the plain name)."""
    return name if mode == "off" else f"{name} +{mode}"


async def latency_blocks(
    url: str, modes: Sequence[str], *, blocks: int, calls: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each mode's median call latency and CPU time per call (µs), block by block.

    One process, one nova_lite contender per mode, blocks of `calls` sequential calls
    taken in turn: a load change hits every mode alike, so the ratio of two modes'
    block medians is steadier than throughput taken minutes apart. The median
    latency leaves out what a few calls pay for all (a batch of spans exported);
    the CPU time is all of it, the block's spans flushed inside it: this thread's
    CPU time, which time spent waiting for the CPU on a busy machine does not count.
    """
    from benchmarks.contenders import NovaLite

    contenders = {mode: NovaLite(url, observe=mode) for mode in modes}
    medians: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for contender in contenders.values():
            await contender.setup()
            await contender.latencies(min(calls, 100))  # warm up
        for _ in range(blocks):
            for mode, contender in contenders.items():
                started = time.thread_time()
                medians[mode].append(statistics.median(await contender.latencies(calls)))
                if contender.telemetry.tracing is not None:
                    contender.telemetry.tracing.flush()
                cpu[mode].append((time.thread_time() - started) / calls * 1e6)
    finally:
        for contender in contenders.values():
            await contender.teardown()
    return medians, cpu


async def concurrent_blocks(
    url: str, modes: Sequence[str], *, blocks: int, calls: int, concurrency: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each mode's calls/s and CPU time per call (µs) with `concurrency` calls in
    flight, block by block.

    As `latency_blocks`, one contender per mode and blocks taken in turn, but a
    block is `calls` calls made by `concurrency` callers at once (each makes
    ``calls // concurrency``), the way `bench rpc` loads a server: what a call costs
    when the loop is never idle. The CPU time per call (this thread's, the block's
    spans flushed inside it) is the steady figure: the calls/s of one block swings
    with the machine's load, the CPU a call does much less.
    """
    from benchmarks.contenders import NovaLite

    per_caller = max(1, calls // concurrency)
    made = per_caller * concurrency

    async def block(contender: NovaLite) -> tuple[float, float]:
        async def caller() -> None:
            for _ in range(per_caller):
                await contender.call()

        started, cpu_started = time.perf_counter(), time.thread_time()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        if contender.telemetry.tracing is not None:
            contender.telemetry.tracing.flush()
        cpu_used = time.thread_time() - cpu_started
        return made / (time.perf_counter() - started), cpu_used / made * 1e6

    contenders = {mode: NovaLite(url, observe=mode) for mode in modes}
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for contender in contenders.values():
            await contender.setup()
            await block(contender)  # warm up
        for _ in range(blocks):
            for mode, contender in contenders.items():
                rate, per_call = await block(contender)
                rates[mode].append(rate)
                cpu[mode].append(per_call)
    finally:
        for contender in contenders.values():
            await contender.teardown()
    return rates, cpu
