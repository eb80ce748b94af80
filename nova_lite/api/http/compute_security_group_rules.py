"""Nova's os-security-group-rules (below 2.36): ingress rules, Nova's checks, Neutron's store.

Nova's arguments (``ip_protocol`` tcp, udp or icmp; ``from_port``/``to_port``, -1 for
ICMP's any; a ``cidr`` (default ``0.0.0.0/0``) or a ``group_id``) are checked as Nova
checks them (400s), a rule already in the group is a 400, and the rule is made in
Neutron as an ingress rule of the ethertype of its CIDR.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from nova_lite import objects
from nova_lite.api.http.common import API, body_of, check_fields, json
from nova_lite.api.http.compute import PREFIX
from nova_lite.api.http.compute_security_groups import (
    PORT_PROTOCOLS,
    authorize,
    proxied,
    rule_view,
    uuid_of,
    visible_groups,
)
from nova_lite.exceptions import Invalid

__all__ = ["routes"]

routes = web.RouteTableDef()


def _port(field: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise Invalid(f"Invalid input: {field} {value!r} must be an integer.")
    return int(str(value))


def _neutron_rule(args: dict[str, Any]) -> dict[str, Any]:
    """Nova's rule arguments as a Neutron ingress rule, with Nova's checks."""
    protocol, group = args.get("ip_protocol"), args.get("group_id")
    low, high = _port("from_port", args.get("from_port")), _port("to_port", args.get("to_port"))
    name = str(protocol).lower() if protocol else ""
    if group and not name and low is None and high is None:
        return {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": group}
    if group and name and low is None and high is None:
        low, high = (-1, -1) if name == "icmp" else (1, 65535)
    if not name or low is None or high is None:
        raise Invalid("Not enough parameters to build a valid rule.")
    _check_ports(name, low, high)
    cidr = None if group else _cidr(args.get("cidr"))
    version = ipaddress.ip_network(cidr, strict=False).version if cidr else 4
    rule: dict[str, Any] = {
        "direction": "ingress",
        "protocol": name,
        "ethertype": f"IPv{version}",
        "remote_ip_prefix": cidr,
        "remote_group_id": group,
    }
    if low != -1:
        rule["port_range_min"] = low
    if high != -1:
        rule["port_range_max"] = high
    return rule


def _check_ports(name: str, low: int, high: int) -> None:
    """Nova's protocol and port checks (TCP/UDP 1-65535, ICMP type and code -1-255)."""
    if name not in ("tcp", "udp", "icmp"):
        raise Invalid(f"Invalid IP protocol {name}.")
    if name in PORT_PROTOCOLS and (low > high or low < 1 or high > 65535):
        raise Invalid(f"Invalid port range {low}:{high}. Valid {name.upper()} ports are 1-65535.")
    if name == "icmp" and not (-1 <= low <= 255 and -1 <= high <= 255):
        raise Invalid(f"Invalid port range {low}:{high}. For ICMP, the type:code must be valid.")


def _cidr(value: object) -> str:
    if not value:
        return "0.0.0.0/0"
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise Invalid(f"Invalid cidr {value}.") from None
    return str(value)


def _same(rule: objects.SecurityGroupRule, new: dict[str, Any]) -> bool:
    """Nova's duplicate test: same remote, ports and protocol."""
    return (
        rule.direction == "ingress"
        and rule.remote_group_id == new.get("remote_group_id")
        and (rule.remote_ip_prefix or None) == (new.get("remote_ip_prefix") or None)
        and rule.port_range_min == new.get("port_range_min")
        and rule.port_range_max == new.get("port_range_max")
        and (rule.protocol or "").lower() == (new.get("protocol") or "")
    )


@routes.post(PREFIX + "/os-security-group-rules")
async def create_security_group_rule(request: web.Request) -> web.Response:
    """Add an ingress rule to a group (Nova answers 200)."""
    ctx = proxied(request)
    args = await body_of(request, "security_group_rule")
    check_fields(
        args,
        allowed=("ip_protocol", "from_port", "to_port", "cidr", "group_id"),
        required=("parent_group_id",),
        where="security_group_rule",
    )
    parent = uuid_of(str(args["parent_group_id"]))
    if args.get("group_id") is not None:
        args["group_id"] = uuid_of(str(args["group_id"]))
    network = request.app[API].network
    group = await network.get_security_group(ctx, parent)
    authorize(request, "rule:create", group.project_id)
    if args.get("group_id") is not None:
        await network.get_security_group(ctx, args["group_id"])
    rule = _neutron_rule(args)
    if any(_same(existing, rule) for existing in group.rules):
        raise Invalid(f"This rule already exists in group {parent}")
    (made,) = await network.create_security_group_rules(
        ctx, [{**rule, "security_group_id": parent}]
    )
    return json({"security_group_rule": rule_view(made, await visible_groups(request))})


@routes.delete(PREFIX + "/os-security-group-rules/{rule_id}")
async def delete_security_group_rule(request: web.Request) -> web.Response:
    """Delete a rule; 202."""
    ctx = proxied(request)
    rule_id = uuid_of(request.match_info["rule_id"])
    network = request.app[API].network
    rule = await network.get_security_group_rule(ctx, rule_id)
    authorize(request, "rule:delete", rule.project_id)
    await network.delete_security_group_rule(ctx, rule_id)
    return web.Response(status=202)
