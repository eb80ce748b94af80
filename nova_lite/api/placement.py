"""What a server create asks of placement beyond its flavor: a server group, a zone.

The ``group`` scheduler hint names a server group of the caller's project (Nova
answers 400 for one that does not exist); its policy and rules go into every
instance's request spec, where the scheduler's group filters and weighers read
them. A requested availability zone must be available (400 otherwise, as Nova);
the conductor adds which hosts are in which zone when it schedules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nova_lite import objects
from nova_lite.api.zones import available_zones, compute_hosts
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI

__all__ = ["Placement", "placement_for"]

UUID_LIKE = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


@attrs.frozen(kw_only=True)
class Placement:
    """The group part of the create's request specs (the conductor adds the zones)."""

    group: objects.ServerGroup | None = None

    def spec_fields(self) -> dict[str, Any]:
        """The `objects.RequestSpec` fields this placement sets."""
        group = self.group
        return {
            "instance_group": group.uuid if group else None,
            "group_policy": group.policy if group else None,
            "group_rules": dict(group.rules) if group else {},
        }


async def placement_for(
    api: NovaAPI,
    ctx: RequestContext,
    hints: Mapping[str, Any],
    availability_zone: str | None,
) -> Placement:
    """The create's placement: its hints' server group and its zone, both checked."""
    group = await _group(api, ctx, hints.get("group"))
    if availability_zone is not None:
        available, _ = available_zones(await compute_hosts(api, ctx))
        if availability_zone not in available:
            raise Invalid(f"The requested availability zone is not available: {availability_zone}")
    return Placement(group=group)


async def _group(api: NovaAPI, ctx: RequestContext, hint: object) -> objects.ServerGroup | None:
    if hint is None:
        return None
    if isinstance(hint, list) and len(hint) == 1:  # the CLI's --hint group=... sends a list
        hint = hint[0]
    if not isinstance(hint, str) or not UUID_LIKE.fullmatch(hint):
        raise Invalid(f"Invalid input for field/attribute group. Value: {hint!r:.80}. A uuid.")
    try:
        group = await api.conductor.server_group_get(ctx, hint)
    except NotFound:
        group = None
    if group is None or (group.project_id != ctx.project_id and not ctx.is_admin):
        raise Invalid(f"Invalid server group {hint}: no such group.")
    return group
