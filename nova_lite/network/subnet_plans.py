"""Neutron's rules for a subnet's addresses, checked with no I/O.

A subnet request (Neutron's attribute names: ``cidr``, ``ip_version``, ``gateway_ip``,
``allocation_pools``, ``dns_nameservers``, ``host_routes``, ``ipv6_ra_mode``,
``ipv6_address_mode``) becomes a `SubnetSpec` whose every address is canonical and
consistent: the gateway a usable host of the CIDR (or ``None``: no gateway), each
pool inside the CIDR, no two pools overlapping, the gateway in none of them, at most
`MAX_DNS` name servers and `MAX_ROUTES` host routes of the subnet's IP version, and
the IPv6 modes Neutron accepts (SLAAC needs a /64). Without pools, the pools are the
usable range minus the gateway, as Neutron computes them. Each violation is `Invalid`
naming the field and the value.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from nova_lite.exceptions import Invalid

__all__ = [
    "AUTO_ADDRESS_MODES",
    "IPV6_MODES",
    "MAX_DNS",
    "MAX_ROUTES",
    "SubnetSpec",
    "eui64",
    "parse_cidr",
    "plan",
    "replan",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_DNS = 5  # Neutron's max_dns_nameservers
MAX_ROUTES = 20  # Neutron's max_subnet_host_routes
MIN_PREFIX = {4: 8, 6: 16}  # wider subnets are refused (0.0.0.0/0 would claim everything)
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")  # addresses made from the MAC (EUI-64)


@attrs.frozen(kw_only=True)
class SubnetSpec:
    """A checked subnet: canonical CIDR, gateway, pools, DHCP options and IPv6 modes."""

    cidr: str
    ip_version: int
    gateway_ip: str | None
    pools: tuple[tuple[str, str], ...]
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[dict[str, str], ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None

    @property
    def auto_address(self) -> bool:
        """Whether ports get their address from their MAC (SLAAC or stateless DHCPv6)."""
        return self.ipv6_address_mode in AUTO_ADDRESS_MODES

    def pool_dicts(self) -> list[dict[str, str]]:
        """The pools as Neutron shows them."""
        return [{"start": start, "end": end} for start, end in self.pools]


def plan(values: Mapping[str, Any]) -> SubnetSpec:
    """A new subnet's spec from its request (a missing ``gateway_ip``: the first host)."""
    network = parse_cidr(values.get("cidr"))
    version = values.get("ip_version", network.version)
    if version != network.version:
        raise Invalid(
            f"Invalid input for operation: ip_version {version!r} does not match the "
            f"IPv{network.version} cidr {str(network)!r}."
        )
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise Invalid(
            f"cidr {str(network)!r} is too wide: an IPv{network.version} subnet's prefix "
            f"must be /{MIN_PREFIX[network.version]} or longer."
        )
    first, _last = _usable_range(network)
    gateway = _gateway(values["gateway_ip"], network) if "gateway_ip" in values else first
    return _spec(network, gateway, values.get("allocation_pools"), values)


def replan(current: SubnetSpec, changes: Mapping[str, Any]) -> SubnetSpec:
    """`current` with an update's changes (gateway, pools, DNS, routes) applied, checked."""
    network = ipaddress.ip_network(current.cidr)
    merged: dict[str, Any] = {
        "dns_nameservers": list(current.dns_nameservers),
        "host_routes": list(current.host_routes),
        "ipv6_ra_mode": current.ipv6_ra_mode,
        "ipv6_address_mode": current.ipv6_address_mode,
        **changes,
    }
    gateway_ip = merged.get("gateway_ip", current.gateway_ip)
    gateway = None if gateway_ip is None else _gateway(gateway_ip, network)
    pools = merged.get("allocation_pools", current.pool_dicts())
    return _spec(network, gateway, pools, merged)


def _spec(
    network: IpNetwork, gateway: int | None, pools: object, values: Mapping[str, Any]
) -> SubnetSpec:
    to_str = _to_address(network)
    ranges = _default_pools(network, gateway) if pools is None else _pools(pools, network)
    if gateway is not None:
        for start, end in ranges:
            if start <= gateway <= end:
                raise Invalid(
                    f"Gateway ip {to_str(gateway)} conflicts with allocation pool "
                    f"{to_str(start)}-{to_str(end)}."
                )
    ra_mode, address_mode = _ipv6_modes(values, network)
    return SubnetSpec(
        cidr=str(network),
        ip_version=network.version,
        gateway_ip=None if gateway is None else to_str(gateway),
        pools=tuple((to_str(start), to_str(end)) for start, end in ranges),
        dns_nameservers=_nameservers(values.get("dns_nameservers") or [], network),
        host_routes=_routes(values.get("host_routes") or [], network),
        ipv6_ra_mode=ra_mode,
        ipv6_address_mode=address_mode,
    )


def parse_cidr(value: object) -> IpNetwork:
    """`value` as a network with no host bits set; `Invalid` naming it otherwise."""
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(f"cidr must be a network like '10.0.0.0/24', not {value!r:.80}.", cidr=value)
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise Invalid(f"cidr {value!r:.80} is not a valid CIDR: {exc}.", cidr=value) from None


def _to_address(network: IpNetwork) -> Any:
    kind = type(network.network_address)
    return lambda value: str(kind(value))


def _usable_range(network: IpNetwork) -> tuple[int, int]:
    """The first and last host addresses, as integers (IPv4 leaves out the broadcast)."""
    first = int(network.network_address) + 1
    last = int(network.broadcast_address) - (1 if network.version == 4 else 0)
    if last <= first:
        raise Invalid(
            f"cidr {str(network)!r} is too small: a subnet needs a gateway and at least "
            "one address to allocate (IPv4: a prefix of /30 or shorter)."
        )
    return first, last


def _address(field: str, value: object, version: int) -> IpAddress:
    if not isinstance(value, str):
        raise Invalid(f"Invalid input for {field}: {value!r} is not an IP address string.")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"Invalid input for {field}: {value!r} is not a valid IP address.") from None
    if address.version != version:
        raise Invalid(f"Invalid input for {field}: {value!r} is not an IPv{version} address.")
    return address


def _host(field: str, value: object, network: IpNetwork) -> int:
    """`value` as an integer, if it is a usable host address of `network`."""
    address = _address(field, value, network.version)
    first, last = _usable_range(network)
    if not first <= int(address) <= last:
        to_str = _to_address(network)
        raise Invalid(
            f"{field} {value!r} is not a usable address of {network}; "
            f"allowed: {to_str(first)} to {to_str(last)}."
        )
    return int(address)


def _gateway(value: object, network: IpNetwork) -> int | None:
    return None if value is None else _host("gateway_ip", value, network)


def _default_pools(network: IpNetwork, gateway: int | None) -> list[tuple[int, int]]:
    """The usable range without the gateway: one pool, or two around a gateway inside."""
    first, last = _usable_range(network)
    if gateway is None or not first <= gateway <= last:
        return [(first, last)]
    return [
        (start, end) for start, end in ((first, gateway - 1), (gateway + 1, last)) if start <= end
    ]


def _pools(value: object, network: IpNetwork) -> list[tuple[int, int]]:
    if not isinstance(value, list | tuple) or not value:
        raise Invalid("allocation_pools must be a non-empty list of {'start': ..., 'end': ...}.")
    ranges = []
    for pool in value:
        if not isinstance(pool, Mapping) or set(pool) != {"start", "end"}:
            raise Invalid(f"Invalid allocation pool {pool!r}: give exactly 'start' and 'end'.")
        start, end = _host("start", pool["start"], network), _host("end", pool["end"], network)
        if start > end:
            raise Invalid(
                f"Invalid allocation pool {pool['start']}-{pool['end']}: its start is after its "
                "end."
            )
        ranges.append((start, end))
    ranges.sort()
    to_str = _to_address(network)
    for (start, end), (next_start, next_end) in itertools.pairwise(ranges):
        if next_start <= end:
            raise Invalid(
                f"Found overlapping allocation pools: {to_str(start)}-{to_str(end)} and "
                f"{to_str(next_start)}-{to_str(next_end)}."
            )
    return ranges


def _nameservers(value: object, network: IpNetwork) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise Invalid(f"dns_nameservers must be a list of IP addresses, not {value!r:.80}.")
    if len(value) > MAX_DNS:
        raise Invalid(f"Number of DNS nameservers exceeds the limit {MAX_DNS}.")
    found = [str(_address("dns_nameservers", server, network.version)) for server in value]
    duplicated = {server for server in found if found.count(server) > 1}
    if duplicated:
        raise Invalid(f"Duplicate nameserver {sorted(duplicated)[0]} in dns_nameservers.")
    return tuple(found)


def _routes(value: object, network: IpNetwork) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list | tuple):
        raise Invalid(f"host_routes must be a list of routes, not {value!r:.80}.")
    if len(value) > MAX_ROUTES:
        raise Invalid(f"Number of host routes exceeds the limit {MAX_ROUTES}.")
    routes = [_route(route, network) for route in value]
    keys = [(route["destination"], route["nexthop"]) for route in routes]
    if len(set(keys)) != len(keys):
        raise Invalid("Duplicate host route in host_routes.")
    return tuple(routes)


def _route(route: object, network: IpNetwork) -> dict[str, str]:
    if not isinstance(route, Mapping) or set(route) != {"destination", "nexthop"}:
        raise Invalid(f"Invalid host route {route!r:.80}: give 'destination' and 'nexthop'.")
    try:
        destination = ipaddress.ip_network(route["destination"], strict=False)
    except (TypeError, ValueError):
        raise Invalid(f"Invalid host route destination {route['destination']!r:.80}.") from None
    if destination.version != network.version:
        raise Invalid(f"Host route destination {destination} is not IPv{network.version}.")
    nexthop = _address("host_routes nexthop", route["nexthop"], network.version)
    return {"destination": str(destination), "nexthop": str(nexthop)}


def _ipv6_modes(values: Mapping[str, Any], network: IpNetwork) -> tuple[str | None, str | None]:
    ra_mode, address_mode = values.get("ipv6_ra_mode"), values.get("ipv6_address_mode")
    for field, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
        if mode is not None and mode not in IPV6_MODES:
            raise Invalid(f"Invalid input for {field}: {mode!r}; allowed: {', '.join(IPV6_MODES)}.")
        if mode is not None and network.version != 6:
            raise Invalid(f"Invalid input for operation: {field} is for IPv6 subnets only.")
    if ra_mode and address_mode and ra_mode != address_mode:
        raise Invalid(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' "
            "is not valid. If both attributes are set, they must be the same value."
        )
    if address_mode in AUTO_ADDRESS_MODES and network.prefixlen != 64:
        raise Invalid(
            f"Invalid CIDR {network} for IPv6 address mode. OpenStack uses the EUI-64 "
            "address format, which requires the prefix to be /64."
        )
    return ra_mode, address_mode


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of a MAC on a /64 (the EUI-64 interface id, U/L bit flipped)."""
    octets = [int(part, 16) for part in mac.split(":")]
    interface = [octets[0] ^ 0x02, *octets[1:3], 0xFF, 0xFE, *octets[3:6]]
    network = ipaddress.ip_network(cidr)
    value = int(network.network_address) | int.from_bytes(bytes(interface), "big")
    return str(ipaddress.ip_address(value))


def pools_contain(pools: Sequence[tuple[str, str]], address: str) -> bool:
    """Whether `address` lies in one of `pools`."""
    value = int(ipaddress.ip_address(address))
    return any(
        int(ipaddress.ip_address(a)) <= value <= int(ipaddress.ip_address(b)) for a, b in pools
    )
