"""IP address management: validated subnet plans, free-address search, MAC addresses.

Pure functions over the stdlib `ipaddress` module; the manager keeps the state.
Addresses are stored and compared as canonical strings (``str(ip_address(x))``).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Callable, Collection

import attrs

from nova_lite.exceptions import Invalid

__all__ = [
    "SubnetPlan",
    "as_int",
    "first_free",
    "plan_subnet",
    "random_mac",
    "require_served",
    "to_address",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAC_PREFIX = "fa:16:3e"  # the OUI Neutron gives its ports, locally administered


@attrs.frozen(kw_only=True)
class SubnetPlan:
    """A validated subnet: its CIDR, gateway and allocation pool, as canonical strings."""

    cidr: str
    gateway_ip: str
    pool_start: str
    pool_end: str
    ip_version: int


def plan_subnet(
    cidr: object,
    gateway_ip: object = None,
    pool_start: object = None,
    pool_end: object = None,
) -> SubnetPlan:
    """Validate a subnet request and fill in the defaults Neutron would.

    The gateway defaults to the first host of the CIDR and the pool to the second
    host through the last one. Every address must be a usable host of the CIDR and an
    explicit pool must not contain the gateway; violations raise `Invalid` naming
    the field and value.
    """
    network = _parse_cidr(cidr)
    first, last = _usable_range(network)
    gateway = first if gateway_ip is None else _host("gateway_ip", gateway_ip, network)
    start = first + 1 if pool_start is None else _host("pool_start", pool_start, network)
    end = last if pool_end is None else _host("pool_end", pool_end, network)
    address = _to_address(network)
    if start > end:
        raise Invalid(
            f"pool_start {address(start)} is after pool_end {address(end)}; "
            "the pool would be empty."
        )
    explicit_pool = pool_start is not None or pool_end is not None
    if explicit_pool and start <= gateway <= end:
        raise Invalid(
            f"gateway_ip {address(gateway)} is inside the allocation pool "
            f"{address(start)}-{address(end)}; choose a pool that leaves the gateway out."
        )
    return SubnetPlan(
        cidr=str(network),
        gateway_ip=address(gateway),
        pool_start=address(start),
        pool_end=address(end),
        ip_version=network.version,
    )


MIN_PREFIX = 8  # a subnet wider than a /8 is refused, as is the whole-internet 0.0.0.0/0


def require_served(plan: SubnetPlan) -> SubnetPlan:
    """`plan` if the network service serves it: IPv4 (the only version its API offers),
    no wider than a ``/8`` (``0.0.0.0/0`` would claim every address there is)."""
    network = ipaddress.ip_network(plan.cidr)
    if network.version != 4:
        raise Invalid(f"cidr {plan.cidr!r} is IPv{network.version}; only IPv4 subnets are served.")
    if network.prefixlen < MIN_PREFIX:
        raise Invalid(
            f"cidr {plan.cidr!r} is too wide: a subnet's prefix must be /{MIN_PREFIX} or longer."
        )
    return plan


def _parse_cidr(value: object) -> IpNetwork:
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(f"cidr must be a network like '10.0.0.0/24', not {value!r:.80}.", cidr=value)
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise Invalid(f"cidr {value!r:.80} is not a valid CIDR: {exc}.", cidr=value) from None
    return network


def _to_address(network: IpNetwork) -> Callable[[int], str]:
    """Turns an integer back into an address string of `network`'s IP version."""
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


def _host(field: str, value: object, network: IpNetwork) -> int:
    """`value` as an integer, if it is a usable host address of `network`."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be an IP address string, not {value!r}.")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"{field} {value!r} is not an IP address.") from None
    first, last = _usable_range(network)
    if address.version != network.version or not first <= int(address) <= last:
        to_str = _to_address(network)
        raise Invalid(
            f"{field} {value!r} is not a usable address of {network}; "
            f"allowed: {to_str(first)} to {to_str(last)}."
        )
    return int(address)


def as_int(address: str) -> int:
    """An address string as an integer (socket's parser: far faster than ipaddress')."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return int.from_bytes(socket.inet_pton(family, address), "big")


def to_address(value: int, cidr: str) -> str:
    """The integer `value` as a canonical address string of `cidr`'s IP version."""
    if ":" in cidr:
        return str(ipaddress.IPv6Address(value))
    return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))


def first_free(pool_start: str, pool_end: str, taken: Collection[str]) -> str | None:
    """The lowest pool address not in `taken`, or None when the pool is used up."""
    start, end = ipaddress.ip_address(pool_start), ipaddress.ip_address(pool_end)
    used = {as_int(address) for address in taken}
    for value in range(int(start), int(end) + 1):
        if value not in used:
            return str(type(start)(value))
    return None


def random_mac(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A random MAC address under Neutron's ``fa:16:3e`` prefix."""
    return MAC_PREFIX + "".join(f":{byte:02x}" for byte in randbytes(3))
