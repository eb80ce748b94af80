"""What a scheduling decision did: each filter's toll, in order, and why "No valid host".

A `FilterTally` is kept for one select_destinations: the hosts the filters began
with, then for each filter (in the order they ran) how many hosts it was given and
how many it kept, added up if the filters run over the hosts in several batches.
When no host is left, or every host that passed lost its claim to another
scheduler process (`claims_lost`: the database refused the claim because the host no
longer fitted), `refuse` logs what Nova logs at INFO since Ocata ("Filtering
removed all hosts for the request with instance ID ... Filter results: ['RamFilter:
(start: 3, end: 0)', ...]") with what the request needed, and returns the
`NoValidHost` whose message (the instance fault, and so the HTTP fault body) is the
short form: which filters removed how many hosts, and the request's needs.
`decided` reports either outcome to the deployment's telemetry (the decision's
metrics and span).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import structlog

from nova_lite import objects
from nova_lite.exceptions import NoValidHost
from nova_lite.telemetry.steps import record_decision, record_span
from nova_lite.transport import Transport

__all__ = ["FilterTally", "decided", "needs", "refuse"]

log = structlog.get_logger(__name__)

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@attrs.define
class FilterTally:
    """The hosts a decision began with, and each filter's hosts in and out, in order."""

    start: int = 0
    steps: dict[str, list[int]] = attrs.field(factory=dict)  # name -> [given, kept]
    started_ns: int = attrs.field(factory=time.time_ns)
    passed: int = 0  # hosts that passed every filter (of the last ranking)
    claims_lost: int = 0  # claims refused by the database: another scheduler was there first

    def began(self, hosts: int) -> None:
        """The filters are given `hosts` hosts (added up over batches)."""
        self.start += hosts

    def record(self, name: str, given: int, kept: int) -> None:
        """Filter `name` was given `given` hosts and kept `kept` of them."""
        counts = self.steps.setdefault(name, [0, 0])
        counts[0] += given
        counts[1] += kept

    def removed(self) -> list[tuple[str, int]]:
        """How many hosts each filter removed, in the order they ran."""
        return [(name, given - kept) for name, (given, kept) in self.steps.items()]

    def results(self) -> list[str]:
        """Each filter's hosts in and out, as Nova logs them: ``Name: (start: 3, end: 0)``."""
        steps = self.steps.items()
        return [f"{name}: (start: {given}, end: {kept})" for name, (given, kept) in steps]


def needs(spec: objects.RequestSpec) -> str:
    """What the request asks of a host, in words (its flavor's sizes, zone, group)."""
    flavor = spec.flavor
    parts = [f"{flavor.vcpus} vCPU", f"{flavor.memory_mb} MB RAM", f"{flavor.disk_gb} GB disk"]
    if spec.availability_zone:
        parts.append(f"availability zone {spec.availability_zone!r}")
    if spec.instance_group and spec.group_policy:
        parts.append(f"server group policy {spec.group_policy}")
    if spec.ignore_hosts:
        parts.append(f"none of the hosts {', '.join(spec.ignore_hosts)}")
    return ", ".join(parts)


def _short(spec: objects.RequestSpec, tally: FilterTally) -> str:
    if tally.claims_lost:
        noun = "host" if tally.passed == 1 else "hosts"
        lost = "claim" if tally.claims_lost == 1 else "claims"
        return (
            f"{NO_VALID_HOST} {tally.passed} {noun} passed the filters, but the "
            f"{tally.claims_lost} {lost} made there lost to other schedulers' claims "
            f"(the hosts no longer fit the request when it was written; the request "
            f"needs {needs(spec)})."
        )
    removing = [f"{name} removed {count}" for name, count in tally.removed() if count]
    if tally.start == 0:
        found = "There are no compute hosts to choose from"
    else:
        noun = "host" if tally.start == 1 else "hosts"
        found = f"Of {tally.start} {noun}, {', '.join(removing) or 'the filters removed all'}"
    return f"{NO_VALID_HOST} {found} (the request needs {needs(spec)})."


def refuse(transport: Transport, spec: objects.RequestSpec, tally: FilterTally) -> NoValidHost:
    """Log why no host is left (Nova's INFO line), report it, and the error to raise."""
    results = tally.results()
    if tally.claims_lost:
        detail = (
            f"Every claim for the request with instance ID '{spec.instance_uuid}' was "
            f"refused: {tally.claims_lost} of the {tally.passed} hosts that passed the "
            f"filters were claimed by other schedulers first. Filter results: {results}"
        )
    else:
        detail = (
            f"Filtering removed all hosts for the request with instance ID "
            f"'{spec.instance_uuid}'. Filter results: {results}"
        )
    log.info(
        "scheduler.no_valid_host",
        instance_uuid=spec.instance_uuid,
        detail=detail,
        needs=needs(spec),
        claims_lost=tally.claims_lost,
    )
    decided(transport, spec, tally, host=None)
    return NoValidHost(
        _short(spec, tally),
        instance_uuid=spec.instance_uuid,
        filter_results=results,
        needs=needs(spec),
    )


def decided(
    transport: Transport, spec: objects.RequestSpec, tally: FilterTally, *, host: str | None
) -> None:
    """Report one decision (a host chosen, or none) to the deployment's telemetry."""
    outcome = "selected" if host is not None else "no_valid_host"
    record_decision(transport, outcome, tally.start, tally.removed())
    attributes: dict[str, Any] = {
        "instance_uuid": spec.instance_uuid,
        "scheduler.outcome": outcome,
        "scheduler.hosts_considered": tally.start,
        "scheduler.filter_results": tally.results(),
    }
    if host is not None:
        attributes["scheduler.host"] = host
    record_span(transport, "scheduler decision", tally.started_ns, attributes)
