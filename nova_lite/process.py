"""Process-wide settings a nova_lite process applies to itself: the garbage collector.

A booting server makes thousands of short-lived objects (messages, envelopes,
records) and few cycles, while a started cloud holds hundreds of thousands of
long-lived ones (hosts, services, handlers). With CPython's default thresholds
(700, 10, 10) the collector runs every few hundred allocations and, every hundred
gen-0 runs, walks the whole long-lived heap again: measured at 19% of a boot's
CPU. ``[process]`` raises the thresholds and, once the services are started,
moves every object alive at that point to the permanent generation
(`gc.freeze`), so later collections only walk what the running cloud allocates.

These are the process's, not a library's: `nova_lite.launcher` (``nova-lite
service``, ``nova-lite all``), ``nova-lite demo``, ``nova-lite simulate`` and the
benchmarks call `tune_garbage_collector` at start and `freeze_after_start` once
their services run. `nova_lite.cloud.Cloud` never does: a program embedding a
cloud owns its interpreter and calls these itself if it wants them.
"""

from __future__ import annotations

import gc

import structlog

from nova_lite.config import ProcessConfig

__all__ = ["freeze_after_start", "thaw", "tune_garbage_collector"]

log = structlog.get_logger(__name__)


def tune_garbage_collector(config: ProcessConfig) -> None:
    """Set the collector's three generation thresholds from ``[process]``."""
    gc.set_threshold(config.gc_threshold0, config.gc_threshold1, config.gc_threshold2)


def freeze_after_start(config: ProcessConfig) -> None:
    """Collect once, then freeze every surviving object (if ``gc_freeze_after_start``).

    Called once the process's services have started: what exists then lives as
    long as the process, and no later collection needs to walk it again. The
    collection first keeps start-up's own garbage out of the permanent generation.
    """
    if config.gc_freeze_after_start:
        gc.collect()
        gc.freeze()
    log.info(
        "process.gc_tuned",
        thresholds=list(gc.get_threshold()),
        frozen=gc.get_freeze_count(),
    )


def thaw() -> None:
    """Return the frozen objects to the collector (`gc.unfreeze`).

    For a process that stops one cloud and starts another (the benchmarks' runs):
    without it, every stopped cloud's objects would stay frozen, never collected.
    """
    gc.unfreeze()
