"""The everyday network commands of the ``openstack`` CLI, unchanged, against the front end.

A getting-started guide's steps: a security group with an SSH rule, a server in it,
a port, a router, an external network and a floating IP from it. The commands run as
subprocesses configured only by ``OS_*`` variables (`tests.test_http_cli`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http_fixtures import FrontEnd
from tests.test_http_cli import front, openstack

__all__ = ["front"]

pytestmark = pytest.mark.parametrize("broker", ["memory"], indirect=True)


async def test_security_group_rule_and_a_server_in_the_group(
    front: FrontEnd, tmp_path: Path
) -> None:
    """``security group create``, ``rule create --protocol tcp --dst-port 22``, ``server
    create --security-group``: the server's port has the group and the rule lets SSH in."""
    group = await openstack(front, tmp_path, "security", "group", "create", "web", "-f", "json")
    rule = await openstack(
        front,
        tmp_path,
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "web",
        "-f", "json",
    )  # fmt: skip
    server = await openstack(
        front,
        tmp_path,
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", "private",
        "--security-group", "web", "vm", "-f", "json",
    )  # fmt: skip
    await front.wait(await front.token(), server["id"], "ACTIVE")
    ports = await openstack(
        front, tmp_path, "port", "list", "--server", server["id"], "--long", "-f", "json"
    )
    rules = await openstack(
        front, tmp_path, "security", "group", "rule", "list", "web", "-f", "json"
    )

    assert (rule["port_range_min"], rule["port_range_max"], rule["protocol"]) == (22, 22, "tcp")
    assert rule["security_group_id"] == group["id"]
    (port,) = ports
    assert group["id"] in str(port["Security Groups"])
    assert any(r["ID"] == rule["id"] for r in rules)


async def test_port_router_and_floating_ip(front: FrontEnd, tmp_path: Path) -> None:
    """``port create --network``, ``router create``, and a ``floating ip create`` from an
    external network (``network create --external``, ``subnet create``)."""
    port = await openstack(
        front, tmp_path, "port", "create", "--network", "private", "p1", "-f", "json"
    )
    router = await openstack(front, tmp_path, "router", "create", "r1", "-f", "json")
    await openstack(front, tmp_path, "network", "create", "--external", "public", "-f", "json")
    await openstack(
        front,
        tmp_path,
        "subnet", "create", "--network", "public", "--subnet-range", "172.24.4.0/24", "pub",
        "-f", "json",
    )  # fmt: skip
    fip = await openstack(front, tmp_path, "floating", "ip", "create", "public", "-f", "json")
    await openstack(front, tmp_path, "router", "set", "--external-gateway", "public", "r1")
    shown = await openstack(front, tmp_path, "router", "show", "r1", "-f", "json")

    assert port["name"] == "p1" and port["fixed_ips"]
    assert router["name"] == "r1"
    assert fip["floating_ip_address"].startswith("172.24.4.")
    assert "network_id" in str(shown["external_gateway_info"])
