"""Neutron's checks of a security group rule, with no I/O, and its default rules.

A rule request (``direction``, ``ethertype``, ``protocol``, ``port_range_min``,
``port_range_max``, ``remote_ip_prefix``, ``remote_group_id``, ``description``)
becomes a `RuleSpec`, or `Invalid` with Neutron's wording: a protocol must be one of
Neutron's names or a number 0-255; TCP, UDP, SCTP, DCCP and UDP-Lite take ports
1-65535 with ``port_range_min <= port_range_max``; ICMP takes a type (min) and a
code (max), 0-255 each, a code only with a type; other protocols take no ports; a
remote is a CIDR of the rule's ethertype or a group, not both. `same_rule` says
when two rules are duplicates (Neutron's 409).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import attrs

from nova_lite.exceptions import Invalid

__all__ = [
    "DEFAULT_GROUP_RULES",
    "NEW_GROUP_RULES",
    "PROTOCOLS",
    "RULE_FIELDS",
    "RuleSpec",
    "check_rule",
    "protocol_number",
    "same_rule",
]

# Neutron's IP_PROTOCOL_MAP: the names a rule's protocol may be given by.
PROTOCOLS: dict[str, int] = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}  # fmt: skip
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})  # tcp, udp, dccp, sctp, udplite
ICMP_PROTOCOLS = frozenset({1, 58})
ETHERTYPES = ("IPv4", "IPv6")
DIRECTIONS = ("ingress", "egress")
RULE_FIELDS = (
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
    "project_id",
    "tenant_id",
)


@attrs.frozen(kw_only=True)
class RuleSpec:
    """A checked rule, ready to store (`remote_group_id` still to be found)."""

    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str


#: What every new group starts with (Neutron): all egress, IPv4 and IPv6.
NEW_GROUP_RULES = tuple(
    RuleSpec(
        direction="egress",
        ethertype=ethertype,
        protocol=None,
        port_range_min=None,
        port_range_max=None,
        remote_ip_prefix=None,
        remote_group_id=None,
        description="",
    )
    for ethertype in ETHERTYPES
)
#: A project's ``default`` group adds ingress from its own members (`remote_group_id`
#: "self" is replaced by the group's id when it is made).
DEFAULT_GROUP_RULES = NEW_GROUP_RULES + tuple(
    attrs.evolve(rule, direction="ingress", remote_group_id="self") for rule in NEW_GROUP_RULES
)


def protocol_number(protocol: str | None) -> int | None:
    """The IP protocol number of a stored protocol (a name or digits); None: any."""
    if protocol is None:
        return None
    return PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)


def check_rule(values: Mapping[str, Any]) -> RuleSpec:
    """A rule request as a `RuleSpec`; `Invalid` (Neutron's message) otherwise."""
    direction = values.get("direction")
    if direction not in DIRECTIONS:
        raise Invalid(
            f"Invalid input for direction. Reason: {direction!r} is not in {list(DIRECTIONS)}."
        )
    ethertype = _ethertype(values.get("ethertype", "IPv4"))
    protocol = _protocol(values.get("protocol"))
    low = _port_value(values.get("port_range_min"))
    high = _port_value(values.get("port_range_max"))
    _check_ports(protocol, low, high)
    prefix, group = values.get("remote_ip_prefix"), values.get("remote_group_id")
    if prefix is not None and group is not None:
        raise Invalid("Only remote_ip_prefix or remote_group_id may be provided.")
    description = values.get("description", "")
    if not isinstance(description, str) or len(description) > 255:
        raise Invalid(f"Invalid input for description: {description!r:.80} (a string up to 255).")
    return RuleSpec(
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=None if prefix is None else _prefix(prefix, ethertype),
        remote_group_id=None if group is None else str(group),
        description=description,
    )


def _ethertype(value: object) -> str:
    for ethertype in ETHERTYPES:
        if isinstance(value, str) and value.lower() == ethertype.lower():
            return ethertype
    raise Invalid(f"Invalid input for ethertype. Reason: {value!r} is not in {list(ETHERTYPES)}.")


def _protocol(value: object) -> str | None:
    if value is None or value == "any":
        return None
    text = (
        str(value).lower() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if text in PROTOCOLS:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    raise Invalid(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported."
    )


def _port_value(value: object) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).lstrip("-").isdigit()
    ):
        raise Invalid(f"Invalid value for port {value}.")
    number = int(value)
    if not 0 <= number <= 65535:
        raise Invalid(f"Invalid value for port {number}.")
    return number


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    number = protocol_number(protocol)
    if number is None:
        raise Invalid("Must also specify protocol if port range is given.")
    if number in ICMP_PROTOCOLS:
        for field, attr, value in (
            ("type", "port_range_min", low),
            ("code", "port_range_max", high),
        ):
            if value is not None and not 0 <= value <= 255:
                raise Invalid(
                    f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255."
                )
        if low is None:
            raise Invalid(
                f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) is "
                "missing."
            )
        return
    if number not in PORT_PROTOCOLS:
        raise Invalid(
            f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
            "UDPLITE, SCTP and DCCP."
        )
    if 0 in (low, high):
        raise Invalid("Invalid value for port 0.")
    if low is None or high is None or low > high:
        raise Invalid("For TCP/UDP protocols, port_range_min must be <= port_range_max.")


def _prefix(value: object, ethertype: str) -> str:
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise Invalid(
            f"Invalid input for remote_ip_prefix: '{value}' is not a valid IP prefix."
        ) from None
    if not isinstance(value, str) or f"IPv{network.version}" != ethertype:
        raise Invalid(f"Conflicting value ethertype {ethertype} for CIDR {value}.")
    return value


def normalized(prefix: str | None) -> str | None:
    """A prefix's network (``10.2.3.124/24`` → ``10.2.3.0/24``), as Neutron compares them."""
    return None if prefix is None else str(ipaddress.ip_network(prefix, strict=False))


def same_rule(a: RuleSpec, b: RuleSpec) -> bool:
    """Whether two rules of a group allow the same traffic (a duplicate, Neutron's 409)."""
    return (
        a.direction == b.direction
        and a.ethertype == b.ethertype
        and protocol_number(a.protocol) == protocol_number(b.protocol)
        and (a.port_range_min, a.port_range_max) == (b.port_range_min, b.port_range_max)
        and normalized(a.remote_ip_prefix) == normalized(b.remote_ip_prefix)
        and a.remote_group_id == b.remote_group_id
    )
