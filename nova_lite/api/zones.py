"""Availability zones as the API sees them: every compute host with its zone and state.

A host's zone is its aggregates' ``availability_zone`` if it has one, else its own
``[compute] availability_zone`` (default ``nova``, Nova's default_availability_zone).
A zone is available when one of its hosts is enabled (Nova counts enabled services;
a zone whose hosts are all disabled is listed as not available).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nova_lite.context import RequestContext

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI

__all__ = ["HostZone", "available_zones", "compute_hosts", "zone_of"]


@attrs.frozen
class HostZone:
    """One compute host: its name, zone, and whether it is enabled and reporting."""

    host: str
    zone: str
    enabled: bool
    up: bool


def zone_of(host: Mapping[str, Any], aggregate_zones: Mapping[str, str]) -> str:
    """The zone of a host as the scheduler lists it (``list_hosts``)."""
    return aggregate_zones.get(host["host"], host.get("availability_zone") or "nova")


async def compute_hosts(api: NovaAPI, ctx: RequestContext) -> list[HostZone]:
    """Every compute host the scheduler knows, sorted, with its zone."""
    aggregate_zones = await api.conductor.host_zones(ctx)
    return [
        HostZone(
            host=h["host"],
            zone=zone_of(h, aggregate_zones),
            enabled=h["status"] == "enabled",
            up=h["state"] == "up",
        )
        for h in await api.scheduler.all_hosts(ctx)
    ]


def available_zones(hosts: list[HostZone]) -> tuple[list[str], list[str]]:
    """The zones with an enabled host, and those whose hosts are all disabled (both sorted)."""
    available = sorted({h.zone for h in hosts if h.enabled})
    return available, sorted({h.zone for h in hosts} - set(available))
