"""Servers' security groups: those a create asks for, and those a server's view shows.

Nova checks the groups a create names before it builds anything (an unknown one is
a 400) and its compute service later asks Neutron for ports with them. Here the
network service does both halves: `resolve` finds the caller's groups by name or
id, and `record` tells the network service, before the build is cast, which groups
the new servers' ports get; with no groups named the ports get the project's
``default`` group, as Neutron gives them.

A server's view shows the groups its ports have (`names_by_server`), by name, each
once (sorted), as Nova's view builder asks Neutron for them: a server without ports, or
whose ports have no group left, shows no ``security_groups`` at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, SecurityGroupNotFound
from nova_lite.network.rpcapi import NetworkAPI

__all__ = ["names_by_server", "record", "resolve"]


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


async def names_by_server(
    network: NetworkAPI, ctx: RequestContext, instances: Sequence[objects.Instance]
) -> dict[str, tuple[str, ...]]:
    """The names of the groups each server's ports have, sorted, each once (a group
    without a name: its id).

    One server asks the network service for its groups (those it asked for while it
    has no port yet); several ask for those servers' ports by device (network 1.3),
    never for every port the caller sees, and for the caller's groups once.
    """
    if len(instances) == 1:
        uuid = instances[0].uuid
        found = await network.instance_security_groups(ctx, uuid)
        return {uuid: tuple(sorted({g.name or g.id for g in found}))} if found else {}
    if not instances:
        return {}
    wanted = {instance.uuid for instance in instances}
    groups = {g.id: g.name or g.id for g in await network.list_security_groups(ctx)}
    names: dict[str, set[str]] = {}
    for port in await network.devices_ports(ctx, sorted(wanted)):
        if port.device_id in wanted:
            shown = names.setdefault(port.device_id, set())
            shown.update(groups[g] for g in port.security_groups if g in groups)
    return {device: tuple(sorted(found)) for device, found in names.items() if found}
