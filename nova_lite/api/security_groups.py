"""The security groups a server create asks for: found first, recorded before the build.

Nova checks the groups a create names before it builds anything (an unknown one is
a 400) and its compute service later asks Neutron for ports with them. Here the
network service does both halves: `resolve` finds the caller's groups by name or
id, and `record` tells the network service, before the build is cast, which groups
the new servers' ports get; with no groups named the ports get the project's
``default`` group, as Neutron gives them.
"""

from __future__ import annotations

from collections.abc import Sequence

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, SecurityGroupNotFound
from nova_lite.network.rpcapi import NetworkAPI

__all__ = ["record", "resolve"]


async def resolve(
    network: NetworkAPI, ctx: RequestContext, names: Sequence[str] | None
) -> list[str]:
    """The ids of the groups named (none named: none); `Invalid` (400) for an unknown one."""
    if not names:
        return []
    try:
        groups = await network.find_security_groups(ctx, list(names))
    except SecurityGroupNotFound as exc:
        raise Invalid(str(exc)) from None
    return [group.id for group in groups]


async def record(
    network: NetworkAPI,
    ctx: RequestContext,
    instance_uuids: Sequence[str],
    group_ids: Sequence[str],
) -> None:
    """Have the new servers' ports made with `group_ids` (nothing to do for none)."""
    if group_ids:
        await network.request_security_groups(ctx, list(instance_uuids), list(group_ids))
