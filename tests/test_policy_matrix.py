"""The policy matrix over HTTP: every route of every API, for six kinds of caller.

The routes come from ``openapi.json``; each operation names the policy rule guarding
it (``x-policy``; the server action route maps each action to its rule). Each route is
called by an administrator (of another project), a member and a reader of the
project owning the resource, a member of another project, a caller without a token
and one with an expired token. The expected status is derived from the rule table
(`nova_lite.policy.DEFAULTS`), never written per route: no or an expired token gets
401; a rule that lets the caller through gets the route's success status (or 409, a
state conflict past the policy); a rule that refuses gets 404 when the resource
belongs to a project the caller cannot see (its existence does not leak), else 403.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest

from nova_lite import objects
from nova_lite.api.http.openapi import document
from nova_lite.cloud import Cloud
from nova_lite.context import RequestContext
from nova_lite.objects import KeyPair, utcnow
from nova_lite.policy import Enforcer
from nova_lite.testing import (
    PASSWORD,
    CloudFactory,
    NotificationTap,
    add_user,
    identity_of,
    unlimited_quota,
)
from tests.http_fixtures import FrontEnd, Reply, auth_body
from tests.matrix_identity import IDENTITY_BUILDERS, IdentityBuilder
from tests.matrix_volume_groups import GROUP_ACTION_BUILDERS, GROUP_BUILDERS, GroupBuilder

METHODS = ("get", "head", "post", "put", "patch", "delete")
# Callers the policy should refuse come first, so that a wrongly allowed write cannot
# change what a later caller finds; the administrator acts before the owner's member.
ROLES = ("other_member", "owner_reader", "no_token", "expired_token", "admin", "owner_member")
COMPUTE, IMAGE, NETWORK, IDENTITY = "/compute/v2.1", "/image/v2", "/network/v2.0", "/v3"
V255 = {"OpenStack-API-Version": "compute 2.55"}
ACTION_BODIES: dict[str, Any] = {
    "os-stop": None,
    "os-start": None,
    "reboot": {"type": "SOFT"},
    "rescue": None,
    "changePassword": {"adminPass": "n3w-Passw0rd"},
    "rebuild": {"imageRef": "cirros"},
    "createImage": {"name": "snap"},
    "createBackup": {"name": "bak", "backup_type": "daily", "rotation": 1},
    "resize": {"flavorRef": "2"},
    "os-getConsoleOutput": {"length": 5},
    "lock": None,
    "unlock": None,
    "addSecurityGroup": {"name": "default"},
    "removeSecurityGroup": {"name": "default"},
    "os-resetState": {"state": "active"},
    "migrate": None,
    "os-migrateLive": {"host": None, "block_migration": False, "disk_over_commit": False},
}


@attrs.frozen(kw_only=True)
class Operation:
    """One documented route (or one server action): method, path, rule, success codes."""

    operation_id: str
    method: str
    path: str
    rule: str | None  # None: a public route
    success: frozenset[int]
    action: str | None = None


def operations() -> list[Operation]:
    """Every operation of the OpenAPI document, the action route once per action."""
    found = []
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            # 501: a route Nova answers "not implemented" (its libvirt driver's), once
            # its policy let the caller through.
            success = frozenset(int(c) for c in op["responses"] if c.startswith(("2", "3", "501")))
            policy = op.get("x-policy")
            if isinstance(policy, dict):
                for action, rule in policy.items():
                    found.append(
                        Operation(
                            operation_id=op["operationId"],
                            method=method,
                            path=path,
                            rule=rule,
                            success=success | {200, 204},
                            action=action,
                        )
                    )
                continue
            rule = None if op.get("security") == [] else policy
            found.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method,
                    path=path,
                    rule=rule,
                    success=success,
                )
            )
    return found


@attrs.frozen(kw_only=True)
class Call:
    """How to call one operation for one caller, and what it acts on."""

    path: str
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    owner: str | None = None  # the project owning the target; None: the caller's own
    hidden: bool = False  # whether a caller outside `owner` must not learn it exists
    target: dict[str, Any] = attrs.field(factory=dict)  # more of the target the rule reads
    creds: dict[str, Any] = attrs.field(factory=dict)  # what identity reads of the caller's token


@attrs.define
class World:
    """The cloud, a token and a context per caller, and the owner project's resources."""

    front: FrontEnd
    tokens: dict[str, str | None]
    contexts: dict[str, RequestContext]
    owner: str
    server: str
    image: str
    network: str
    volume: str
    port: str
    subnet: str
    request_id: str
    attached: str
    shared_network: str = ""
    external: str = ""  # an external network (for floating IPs), made when first needed
    spare: str = ""  # a second server, for attaches the matrix does not wait for
    tap: NotificationTap | None = None
    attaches: int = 0
    announced: int = 0  # of the attaches, those a host does (and announces when done)
    counter: Any = attrs.field(factory=itertools.count)

    @property
    def cloud(self) -> Cloud:
        return self.front.cloud

    @property
    def member(self) -> RequestContext:
        return self.contexts["owner_member"]

    def _token(self, role: str) -> str:
        token = self.tokens[role]
        assert token is not None, role
        return token

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    async def new_server(self) -> str:
        token = self.tokens["owner_member"]
        assert token is not None
        networks = [{"uuid": self.shared_network}]
        return await self.front.boot(token, self.unique("srv"), networks=networks)

    async def new_image(self) -> str:
        return (await self.cloud.api.image.create(self.member, self.unique("img"))).id

    async def new_network(self) -> str:
        network = await self.cloud.api.network.create_network(
            self.member, self.unique("net"), shared=False
        )
        return str(network.id)

    async def new_volume(self) -> str:
        return str((await self.cloud.api.volume.create(self.member, 1, name="v")).id)

    async def new_attachment(self) -> str:
        """A volume attached to the server, once the attach is done."""
        volume = await self.new_volume()
        session = self.cloud.api.session(self._token("owner_member"))
        device = f"/dev/vd{'bcdefghijklmnop'[self.attaches]}"
        await session.servers.attach_volume(self.server, volume, device)
        self.attaches += 1
        if (await self.cloud.api.conductor.instance_get(self.member, self.server)).host is None:
            # Shelved offloaded (the shelve cells' outcome depends on their timing): the
            # API attached it itself, before answering, and no host announces it.
            return volume
        self.announced += 1
        tap = self.tap
        assert tap is not None
        done = "instance.attach_volume.end"
        await tap.wait_for(lambda _: len(tap.about(self.server, done)) >= self.announced)
        return volume


Builder = Callable[[World, str], Awaitable[Call]]


def _servers(world: World, rest: str = "") -> str:
    return f"{COMPUTE}/servers/{world.server}{rest}"


def _volumes(world: World, rest: str = "") -> str:
    return f"/volume/v3/{world.owner}{rest}"


def _fixed(path: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        return Call(path=path)

    return build


def _fixed_body(path: str, body: Any) -> Builder:
    """A call with a body on a route of the caller's own project."""

    async def build(world: World, role: str) -> Call:
        return Call(path=path, json=body)

    return build


def _owned(path: Callable[[World], str], *, hidden: bool = True, **extra: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        return Call(path=path(world), owner=world.owner, hidden=hidden, **extra)

    return build


def _own_token(world: World, role: str, subject: str | None) -> Call:
    ctx = world.contexts.get(role)
    target = {"target.token.user_id": ctx.user_id if ctx else None}
    headers = {"X-Subject-Token": subject or "none"}
    return Call(path="/v3/auth/tokens", headers=headers, target=target)


async def _subject(world: World, role: str) -> Call:
    return _own_token(world, role, world.tokens[role])


async def _issue(world: World, role: str) -> Call:
    return Call(path="/v3/auth/tokens", json=auth_body("rex", PASSWORD, "demo"))


async def _revoke(world: World, role: str) -> Call:
    user = {"admin": "admin", "owner_member": "mia", "owner_reader": "rex", "other_member": "sam"}
    subject = None
    if role in user:
        project = {"admin": "admin", "other_member": "beta"}.get(role, "demo")
        subject = await world.front.token(user[role], project)
    return _own_token(world, role, subject)


async def _delete_server(world: World, role: str) -> Call:
    server = await world.new_server()
    return Call(path=f"{COMPUTE}/servers/{server}", owner=world.owner, hidden=True)


async def _create_server(world: World, role: str) -> Call:
    server = {"name": world.unique("new"), "imageRef": "cirros", "flavorRef": "1"}
    body = {"server": {**server, "networks": [{"uuid": world.shared_network}]}}
    return Call(path=f"{COMPUTE}/servers", json=body)


async def _create_flavor(world: World, role: str) -> Call:
    body = {"flavor": {"name": world.unique("flv"), "ram": 64, "vcpus": 1, "disk": 1}}
    return Call(path=f"{COMPUTE}/flavors", json=body)


async def _attach(world: World, role: str) -> Call:
    device = f"/dev/vd{'qrstuvwxy'[next(world.counter) % 9]}"
    body = {"volumeAttachment": {"volumeId": await world.new_volume(), "device": device}}
    path = f"{COMPUTE}/servers/{world.spare}/os-volume_attachments"
    return Call(path=path, json=body, owner=world.owner, hidden=True)


async def _detach(world: World, role: str) -> Call:
    volume = await world.new_attachment()
    path = _servers(world, f"/os-volume_attachments/{volume}")
    return Call(path=path, owner=world.owner, hidden=True)


async def _create_image(world: World, role: str) -> Call:
    """An image of the caller's own project (Glance's add_image reads the new owner)."""
    ctx = world.contexts.get(role)
    target = {"owner": ctx.project_id if ctx else None}
    return Call(path=f"{IMAGE}/images", json={"name": world.unique("img")}, target=target)


async def _delete_image(world: World, role: str) -> Call:
    image = await world.new_image()
    return Call(path=f"{IMAGE}/images/{image}", owner=world.owner, hidden=True)


async def _upload_image(world: World, role: str) -> Call:
    image = await world.new_image()
    headers = {"Content-Type": "application/octet-stream"}
    path = f"{IMAGE}/images/{image}/file"
    return Call(path=path, data=b"x" * 64, headers=headers, owner=world.owner, hidden=True)


def _fresh(prefix: str) -> str:
    """A new name for the image API's builders (the world's counter numbers subnets)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def _stage_image(world: World, role: str) -> Call:
    image = await world.new_image()
    headers = {"Content-Type": "application/octet-stream"}
    path = f"{IMAGE}/images/{image}/stage"
    return Call(path=path, data=b"x" * 64, headers=headers, owner=world.owner, hidden=True)


async def _import_image(world: World, role: str) -> Call:
    image = await world.new_image()
    await world.cloud.api.image.upload(world.member, image, b"staged", stage=True)
    body = {"method": {"name": "glance-direct"}}
    return Call(path=f"{IMAGE}/images/{image}/import", json=body, owner=world.owner, hidden=True)


async def _patch_image(world: World, role: str) -> Call:
    headers = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    data = b'[{"op": "add", "path": "/os_distro", "value": "cirros"}]'
    path = f"{IMAGE}/images/{world.image}"
    return Call(path=path, data=data, headers=headers, owner=world.owner, hidden=True)


async def _delete_tag(world: World, role: str) -> Call:
    image = await world.cloud.api.image.create(world.member, _fresh("img"), tags=["t"])
    return Call(path=f"{IMAGE}/images/{image.id}/tags/t", owner=world.owner, hidden=True)


IMPORT_TASK: dict[str, Any] = {
    "type": "import",
    "input": {
        "import_from": "http://example.invalid/cirros.qcow2",
        "import_from_format": "qcow2",
        "image_properties": {"disk_format": "qcow2", "container_format": "bare"},
    },
}


async def _show_task(world: World, role: str) -> Call:
    admin = world.contexts["admin"]
    task = await world.cloud.api.image.task_create(admin, "import", IMPORT_TASK["input"])
    return Call(path=f"{IMAGE}/tasks/{task['id']}")


async def _image_action(world: World, action: str) -> Call:
    images = world.cloud.api.image
    image = await images.create_from_bytes(world.member, _fresh("img"), b"bits")
    if action == "reactivate":
        await images.deactivate(world.member, image.id)
    path = f"{IMAGE}/images/{image.id}/actions/{action}"
    return Call(path=path, owner=world.owner, hidden=True)


async def _deactivate_image(world: World, role: str) -> Call:
    return await _image_action(world, "deactivate")


async def _reactivate_image(world: World, role: str) -> Call:
    return await _image_action(world, "reactivate")


async def _namespace(world: World) -> str:
    """A new private metadefs namespace of the owner project (the catalog is admins')."""
    admin = await (await world.cloud.login_admin()).context()
    name = _fresh("ns")
    values = {
        "namespace": name,
        "owner": world.owner,
        "resource_type_associations": [{"name": "OS::Glance::Image"}],
        "properties": {"p": {"title": "P", "type": "string"}},
        "objects": [{"name": "o"}],
        "tags": [{"name": "t"}],
    }
    await world.cloud.api.image.metadef_create_namespace(admin, values)
    return name


def _in_namespace(rest: str = "", **extra: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        path = f"{IMAGE}/metadefs/namespaces/{await _namespace(world)}{rest}"
        return Call(path=path, owner=world.owner, hidden=True, **extra)

    return build


async def _create_namespace(world: World, role: str) -> Call:
    body = {"namespace": _fresh("ns-new")}
    return Call(path=f"{IMAGE}/metadefs/namespaces", json=body)


def _unique_body(rest: str, **fields: str) -> Builder:
    """A call in a new namespace whose body's ``name`` is new each time."""

    async def build(world: World, role: str) -> Call:
        call = await _in_namespace(rest)(world, role)
        return attrs.evolve(call, json={"name": _fresh("el"), **fields})

    return build


async def _shared_image(world: World, member: str | None = None) -> str:
    """A new ``shared`` image of the owner project, shared with `member` if given."""
    images = world.cloud.api.image
    image = await images.create(world.member, _fresh("img"), visibility="shared")
    if member is not None:
        await images.add_member(world.member, image.id, member)
    return image.id


def _members(image: str, rest: str = "") -> str:
    return f"{IMAGE}/images/{image}/members{rest}"


async def _list_members(world: World, role: str) -> Call:
    path = _members(await _shared_image(world, "proj-x"))
    return Call(path=path, owner=world.owner, hidden=True, target={"visibility": "shared"})


async def _add_member(world: World, role: str) -> Call:
    body = {"member": _fresh("proj-")}
    path = _members(await _shared_image(world))
    return Call(path=path, json=body, owner=world.owner, hidden=True)


async def _show_member(world: World, role: str) -> Call:
    path = _members(await _shared_image(world, "proj-x"), "/proj-x")
    return Call(path=path, owner=world.owner, hidden=True, target={"visibility": "shared"})


async def _update_member(world: World, role: str) -> Call:
    """The image is shared with the other project, whose member alone may accept it."""
    other = world.contexts["other_member"].project_id
    path = _members(await _shared_image(world, other), f"/{other}")
    return Call(
        path=path, json={"status": "accepted"}, owner=world.owner, target={"member_id": other}
    )


async def _delete_member(world: World, role: str) -> Call:
    other = world.contexts["other_member"].project_id
    path = _members(await _shared_image(world, other), f"/{other}")
    return Call(path=path, owner=world.owner, target={"member_id": other})


async def _create_network(world: World, role: str) -> Call:
    return Call(path=f"{NETWORK}/networks", json={"network": {"name": world.unique("net")}})


async def _delete_network(world: World, role: str) -> Call:
    network = await world.new_network()
    return Call(path=f"{NETWORK}/networks/{network}", owner=world.owner, hidden=True)


async def _create_subnet(world: World, role: str) -> Call:
    cidr = f"10.9.{next(world.counter)}.0/24"
    body = {"subnet": {"network_id": world.network, "cidr": cidr, "ip_version": 4}}
    return Call(path=f"{NETWORK}/subnets", json=body, owner=world.owner, hidden=True)


# -- the network API's resources, each call on a fresh one of the owner's project -----


def _net_owned(kind: str, make: Callable[[World], Awaitable[str]], body: Any = None) -> Builder:
    """A call on a fresh resource of the owner's project, at ``{NETWORK}/{kind}/{id}``."""

    async def build(world: World, role: str) -> Call:
        path = f"{NETWORK}/{kind}/{await make(world)}"
        return Call(path=path, json=body, owner=world.owner, hidden=True)

    return build


async def _fresh_subnet(world: World) -> str:
    network = await world.new_network()
    return (await world.cloud.api.network.create_subnet(world.member, network, "10.9.0.0/24")).id


async def _fresh_pool(world: World) -> str:
    pool = {"name": world.unique("pool"), "prefixes": ["10.77.0.0/16"]}
    return (await world.cloud.api.network.create_subnetpool(world.member, pool)).id


async def _fresh_port(world: World) -> str:
    ports = await world.cloud.api.network.create_ports(
        world.member, [{"network_id": world.network}]
    )
    return ports[0].id


async def _fresh_group(world: World) -> str:
    group = {"name": world.unique("sg")}
    return (await world.cloud.api.network.create_security_group(world.member, group)).id


async def _fresh_rule(world: World) -> str:
    rule = {"security_group_id": await _fresh_group(world), "direction": "ingress"}
    (made,) = await world.cloud.api.network.create_security_group_rules(world.member, [rule])
    return made.id


async def _fresh_router(world: World) -> str:
    router = {"name": world.unique("router")}
    return (await world.cloud.api.network.create_router(world.member, router)).id


async def _external(world: World) -> str:
    """The cloud's external network (made once, by the administrator, with a subnet)."""
    if not world.external:
        admin = world.contexts["admin"]
        api = world.cloud.api.network
        (network,) = await api.create_networks(admin, [{"name": "ext", "router:external": True}])
        await api.create_subnet(admin, network.id, "172.24.0.0/16")
        world.external = network.id
    return world.external


async def _fresh_floating_ip(world: World) -> str:
    body = {"floating_network_id": await _external(world)}
    return (await world.cloud.api.network.create_floatingip(world.member, body)).id


async def _create_port(world: World, role: str) -> Call:
    body = {"port": {"network_id": world.network}}
    return Call(path=f"{NETWORK}/ports", json=body, owner=world.owner, hidden=True)


async def _create_rule(world: World, role: str) -> Call:
    rule = {
        "security_group_id": await _fresh_group(world),
        "direction": "egress",
        "protocol": "udp",
    }
    body = {"security_group_rule": rule}
    return Call(path=f"{NETWORK}/security-group-rules", json=body, owner=world.owner, hidden=True)


async def _router_interface(world: World, role: str, *, attached: bool) -> Call:
    router, subnet = await _fresh_router(world), await _fresh_subnet(world)
    if attached:
        await world.cloud.api.network.add_router_interface(world.member, router, subnet_id=subnet)
    verb = "remove" if attached else "add"
    path = f"{NETWORK}/routers/{router}/{verb}_router_interface"
    return Call(path=path, json={"subnet_id": subnet}, owner=world.owner, hidden=True)


async def _add_interface(world: World, role: str) -> Call:
    return await _router_interface(world, role, attached=False)


async def _remove_interface(world: World, role: str) -> Call:
    return await _router_interface(world, role, attached=True)


async def _create_floating_ip(world: World, role: str) -> Call:
    body = {"floatingip": {"floating_network_id": await _external(world)}}
    return Call(path=f"{NETWORK}/floatingips", json=body)


def _compute_owned(kind: str, make: Callable[[World], Awaitable[str]], body: Any = None) -> Builder:
    """A call on a fresh network resource of the owner's, through Nova's proxy API."""

    async def build(world: World, role: str) -> Call:
        path = f"{COMPUTE}/{kind}/{await make(world)}"
        return Call(path=path, json=body, owner=world.owner, hidden=True)

    return build


async def _fresh_ingress_rule(world: World) -> str:
    rule = {"security_group_id": await _fresh_group(world), "direction": "ingress"}
    (made,) = await world.cloud.api.network.create_security_group_rules(world.member, [rule])
    return made.id


async def _create_compute_rule(world: World, role: str) -> Call:
    rule = {"parent_group_id": await _fresh_group(world), "ip_protocol": "tcp"}
    body = {"security_group_rule": {**rule, "from_port": 22, "to_port": 22}}
    path = f"{COMPUTE}/os-security-group-rules"
    return Call(path=path, json=body, owner=world.owner, hidden=True)


async def _create_compute_floating_ip(world: World, role: str) -> Call:
    body = {"pool": await _external(world)}
    return Call(path=f"{COMPUTE}/os-floating-ips", json=body)


async def _routed_floating_ip(world: World, *, associated: bool) -> str:
    """A fresh floating IP of the owner's, from an external network a router joins to the
    shared network (the world's server is on it); associated with the server if asked."""
    api, admin = world.cloud.api.network, world.contexts["admin"]
    external = await _external(world)
    if not await api.list_routers(admin):
        gateway = {"network_id": external}
        router = await api.create_router(admin, {"name": "r1", "external_gateway_info": gateway})
        (shared,) = (await api.get_network(admin, world.shared_network)).subnets[:1]
        await api.add_router_interface(admin, router.id, subnet_id=shared)
    (port,) = await api.list_ports(world.member, device_id=world.server)
    for held in await api.list_floatingips(admin):  # one floating IP per fixed IP
        if held.port_id == port.id:
            await api.update_floatingip(admin, held.id, {"port_id": None})
    fip = await api.create_floatingip(world.member, {"floating_network_id": external})
    if associated:
        await api.update_floatingip(world.member, fip.id, {"port_id": port.id})
    return fip.floating_ip_address


COMPUTE_NETWORK_BUILDERS: dict[str, Builder] = {
    "compute_list_security_groups": _fixed(f"{COMPUTE}/os-security-groups"),
    "compute_show_security_group": _compute_owned("os-security-groups", _fresh_group),
    "compute_create_security_group": _fixed_body(
        f"{COMPUTE}/os-security-groups", {"security_group": {"name": "g", "description": "d"}}
    ),
    "compute_update_security_group": _compute_owned(
        "os-security-groups", _fresh_group, {"security_group": {"name": "n", "description": "d"}}
    ),
    "compute_delete_security_group": _compute_owned("os-security-groups", _fresh_group),
    "compute_create_security_group_rule": _create_compute_rule,
    "compute_delete_security_group_rule": _compute_owned(
        "os-security-group-rules", _fresh_ingress_rule
    ),
    "compute_list_server_security_groups": _owned(lambda w: _servers(w, "/os-security-groups")),
    "compute_list_floating_ip_pools": _fixed(f"{COMPUTE}/os-floating-ip-pools"),
    "compute_list_floating_ips": _fixed(f"{COMPUTE}/os-floating-ips"),
    "compute_show_floating_ip": _compute_owned("os-floating-ips", _fresh_floating_ip),
    "compute_create_floating_ip": _create_compute_floating_ip,
    "compute_delete_floating_ip": _compute_owned("os-floating-ips", _fresh_floating_ip),
    "compute_list_compute_networks": _fixed(f"{COMPUTE}/os-networks"),
    "compute_show_compute_network": _owned(lambda w: f"{COMPUTE}/os-networks/{w.network}"),
    "compute_list_tenant_networks": _fixed(f"{COMPUTE}/os-tenant-networks"),
    "compute_show_tenant_network": _owned(lambda w: f"{COMPUTE}/os-tenant-networks/{w.network}"),
}


NETWORK_BUILDERS: dict[str, Builder] = {
    "network_version": _fixed(f"{NETWORK}/"),
    "network_show_extension": _fixed(f"{NETWORK}/extensions/router"),
    "network_list_agents": _fixed(f"{NETWORK}/agents"),
    "network_update_network": _owned(
        lambda w: f"{NETWORK}/networks/{w.network}", json={"network": {"description": "d"}}
    ),
    "network_update_subnet": _owned(
        lambda w: f"{NETWORK}/subnets/{w.subnet}", json={"subnet": {"name": "s"}}
    ),
    "network_delete_subnet": _net_owned("subnets", _fresh_subnet),
    "network_list_subnetpools": _fixed(f"{NETWORK}/subnetpools"),
    "network_show_subnetpool": _net_owned("subnetpools", _fresh_pool),
    "network_update_subnetpool": _net_owned(
        "subnetpools", _fresh_pool, {"subnetpool": {"name": "n"}}
    ),
    "network_delete_subnetpool": _net_owned("subnetpools", _fresh_pool),
    "network_create_port": _create_port,
    "network_update_port": _owned(
        lambda w: f"{NETWORK}/ports/{w.port}", json={"port": {"name": "p"}}
    ),
    "network_delete_port": _net_owned("ports", _fresh_port),
    "network_list_security_groups": _fixed(f"{NETWORK}/security-groups"),
    "network_show_security_group": _net_owned("security-groups", _fresh_group),
    "network_update_security_group": _net_owned(
        "security-groups", _fresh_group, {"security_group": {"description": "d"}}
    ),
    "network_delete_security_group": _net_owned("security-groups", _fresh_group),
    "network_list_security_group_rules": _fixed(f"{NETWORK}/security-group-rules"),
    "network_show_security_group_rule": _net_owned("security-group-rules", _fresh_rule),
    "network_create_security_group_rule": _create_rule,
    "network_delete_security_group_rule": _net_owned("security-group-rules", _fresh_rule),
    "network_list_routers": _fixed(f"{NETWORK}/routers"),
    "network_show_router": _net_owned("routers", _fresh_router),
    "network_update_router": _net_owned("routers", _fresh_router, {"router": {"name": "r"}}),
    "network_delete_router": _net_owned("routers", _fresh_router),
    "network_add_router_interface": _add_interface,
    "network_remove_router_interface": _remove_interface,
    "network_list_floatingips": _fixed(f"{NETWORK}/floatingips"),
    "network_create_floatingip": _create_floating_ip,
    "network_show_floatingip": _net_owned("floatingips", _fresh_floating_ip),
    "network_update_floatingip": _net_owned(
        "floatingips", _fresh_floating_ip, {"floatingip": {"description": "d"}}
    ),
    "network_delete_floatingip": _net_owned("floatingips", _fresh_floating_ip),
}


async def _create_volume(world: World, role: str) -> Call:
    return Call(path=_volumes(world, "/volumes"), json={"volume": {"size": 1}}, owner=world.owner)


async def _delete_volume(world: World, role: str) -> Call:
    volume = await world.new_volume()
    return Call(path=_volumes(world, f"/volumes/{volume}"), owner=world.owner)


# -- block storage (Cinder): each state-changing call acts on a volume, snapshot or type
# made for it (over RPC, as the owner's member or the administrator), in the state the
# call needs, so that no caller's call changes what a later caller finds.


def _vpath(world: World, rest: str) -> str:
    return f"/volume/v3/{world.owner}{rest}"


def _vowned(rest: Callable[[World], str] | str, **extra: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        tail = rest if isinstance(rest, str) else rest(world)
        return Call(path=_vpath(world, tail), owner=world.owner, **extra)

    return build


async def _own_project(world: World, role: str, rest: str) -> Call:
    ctx = world.contexts.get(role)
    project = ctx.project_id if ctx is not None else world.owner
    return Call(path=f"/volume/v3/{project}{rest}")


def _vown(rest: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        return await _own_project(world, role, rest)

    return build


async def _fresh_volume(world: World, state: str = "available", **kwargs: Any) -> str:
    """A new volume of the owner's project, brought to `state` over RPC."""
    api, member = world.cloud.api.volume, world.member
    volume = (await api.create(member, 1, name="v", **kwargs)).id
    if state in ("attaching", "in-use", "detaching"):
        await api.reserve(member, volume)
    if state in ("in-use", "detaching"):
        await api.attach(member, volume, str(uuid.uuid4()), "/dev/vdb")
    if state == "detaching":
        await api.begin_detaching(member, volume)
    return str(volume)


async def _fresh_snapshot(world: World, **kwargs: Any) -> str:
    snapshot = await world.cloud.api.volume.snapshot_create(
        world.member, world.volume, name="s", **kwargs
    )
    return snapshot.id


async def _fresh_type(world: World, *, public: bool = True, **kwargs: Any) -> str:
    admin = world.contexts["admin"]
    created = await world.cloud.api.volume.type_create(
        admin, world.unique("type"), is_public=public, **kwargs
    )
    return created.id


async def _volume_host(world: World) -> str:
    status = await world.cloud.api.volume.service_status(world.contexts["admin"])
    return str(status["host"])


def _on_fresh_volume(rest: str, body: Any = None, **kwargs: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        volume = await _fresh_volume(world, **kwargs)
        return Call(path=_vpath(world, rest.format(volume)), json=body, owner=world.owner)

    return build


def _on_fresh_snapshot(rest: str, body: Any = None, **kwargs: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        snapshot = await _fresh_snapshot(world, **kwargs)
        return Call(path=_vpath(world, rest.format(snapshot)), json=body, owner=world.owner)

    return build


def _on_fresh_type(rest: str, body: Any = None, **kwargs: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        type_id = await _fresh_type(world, **kwargs)
        return Call(path=_vpath(world, rest.format(type_id)), json=body, owner=world.owner)

    return build


async def _create_snapshot(world: World, role: str) -> Call:
    body = {"snapshot": {"volume_id": world.volume, "name": "snap"}}
    return Call(path=_vpath(world, "/snapshots"), json=body, owner=world.owner)


async def _create_type(world: World, role: str) -> Call:
    body = {"volume_type": {"name": world.unique("type")}}
    return Call(path=_vpath(world, "/types"), json=body, owner=world.owner)


async def _encrypted_type(world: World, rest: str, body: Any = None) -> Call:
    type_id = await _fresh_type(world)
    await world.cloud.api.volume.type_encryption_set(
        world.contexts["admin"], type_id, {"provider": "luks"}, create=True
    )
    encryption = await world.cloud.api.volume.type_encryption_get(world.contexts["admin"], type_id)
    tail = rest.format(type_id, encryption["encryption_id"])
    return Call(path=_vpath(world, tail), json=body, owner=world.owner)


def _encryption(rest: str, body: Any = None) -> Builder:
    async def build(world: World, role: str) -> Call:
        return await _encrypted_type(world, rest, body)

    return build


async def _update_service(world: World, role: str) -> Call:
    body = {"host": await _volume_host(world), "binary": "cinder-scheduler"}
    return Call(path=_vpath(world, "/os-services/enable"), json=body, owner=world.owner)


def _on_volume_host(rest: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        host = await _volume_host(world)
        return Call(path=_vpath(world, rest.format(host)), owner=world.owner)

    return build


async def _fresh_transfer(world: World) -> dict[str, Any]:
    volume = await _fresh_volume(world)
    return await world.cloud.api.volume.transfer_create(world.member, volume)


def _on_fresh_transfer(kind: str, rest: str = "") -> Builder:
    async def build(world: World, role: str) -> Call:
        offer = await _fresh_transfer(world)
        return Call(path=_vpath(world, f"/{kind}/{offer['id']}{rest}"), owner=world.owner)

    return build


def _create_transfer(kind: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        body = {"transfer": {"volume_id": await _fresh_volume(world), "name": "t"}}
        return Call(path=_vpath(world, f"/{kind}"), json=body, owner=world.owner)

    return build


def _accept_transfer(kind: str) -> Builder:
    """An offer of the owner's, accepted in the caller's own project (the rule's target)."""

    async def build(world: World, role: str) -> Call:
        offer = await _fresh_transfer(world)
        call = await _own_project(world, role, f"/{kind}/{offer['id']}/accept")
        body = {"accept": {"auth_key": offer["auth_key"]}}
        ctx = world.contexts.get(role)
        return attrs.evolve(call, json=body, owner=ctx.project_id if ctx else world.owner)

    return build


def _transfer_builders() -> dict[str, Builder]:
    builders: dict[str, Builder] = {}
    for kind, noun in (("os-volume-transfer", "transfer"), ("volume-transfers", "volume_transfer")):
        builders[f"volume_list_{noun}s"] = _vowned(f"/{kind}")
        builders[f"volume_list_{noun}s_detail"] = _vowned(f"/{kind}/detail")
        builders[f"volume_create_{noun}"] = _create_transfer(kind)
        builders[f"volume_show_{noun}"] = _on_fresh_transfer(kind)
        builders[f"volume_delete_{noun}"] = _on_fresh_transfer(kind)
        builders[f"volume_accept_{noun}"] = _accept_transfer(kind)
    return builders


async def _fresh_qos(world: World, *, associated: bool = False) -> str:
    admin, api = world.contexts["admin"], world.cloud.api.volume
    qos = await api.qos_create(admin, world.unique("qos"), specs={"k": "v"})
    if associated:
        await api.qos_associate(admin, qos["id"], await _fresh_type(world))
    return str(qos["id"])


def _on_fresh_qos(rest: str, body: Any = None, *, associated: bool = False) -> Builder:
    async def build(world: World, role: str) -> Call:
        qos = await _fresh_qos(world, associated=associated)
        return Call(path=_vpath(world, f"/qos-specs/{qos}{rest}"), json=body, owner=world.owner)

    return build


async def _associate_qos(world: World, role: str) -> Call:
    qos, type_id = await _fresh_qos(world), await _fresh_type(world)
    path = _vpath(world, f"/qos-specs/{qos}/associate?vol_type_id={type_id}")
    return Call(path=path, owner=world.owner)


async def _disassociate_qos(world: World, role: str) -> Call:
    qos, type_id = await _fresh_qos(world), await _fresh_type(world)
    await world.cloud.api.volume.qos_associate(world.contexts["admin"], qos, type_id)
    path = _vpath(world, f"/qos-specs/{qos}/disassociate?vol_type_id={type_id}")
    return Call(path=path, owner=world.owner)


async def _fresh_message(world: World) -> str:
    """A user message of the owner's project: a volume of a type no backend fits."""
    admin, api = world.contexts["admin"], world.cloud.api.volume
    bogus = await api.type_create(
        admin, world.unique("bogus"), extra_specs={"vendor_name": "No Such Vendor"}
    )
    volume = await api.create(world.member, 1, name="v", volume_type=bogus.id)
    found = [m for m in await api.message_list(world.member) if m["resource_uuid"] == volume.id]
    return str(found[0]["id"])


def _on_fresh_message(rest: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        message = await _fresh_message(world)
        return Call(path=_vpath(world, f"/messages/{message}{rest}"), owner=world.owner)

    return build


async def _fresh_backup(world: World) -> str:
    backup = await world.cloud.api.volume.backup_create(world.member, await _fresh_volume(world))
    return str(backup["id"])


def _on_fresh_backup(rest: str, body: Any = None, **headers: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        backup = await _fresh_backup(world)
        path = _vpath(world, f"/backups/{backup}{rest}")
        return Call(path=path, json=body, headers=dict(headers), owner=world.owner)

    return build


async def _create_backup(world: World, role: str) -> Call:
    body = {"backup": {"volume_id": await _fresh_volume(world), "name": "b"}}
    return Call(path=_vpath(world, "/backups"), json=body, owner=world.owner)


async def _import_backup(world: World, role: str) -> Call:
    """An exported record of a fresh backup, under a new id (so each import is new)."""
    api, admin = world.cloud.api.volume, world.contexts["admin"]
    record = await api.backup_export(admin, await _fresh_backup(world))
    fields = json.loads(base64.b64decode(record["backup_url"]))
    url = base64.b64encode(json.dumps({**fields, "id": str(uuid.uuid4())}).encode()).decode()
    body = {"backup-record": {"backup_service": record["backup_service"], "backup_url": url}}
    return Call(path=_vpath(world, "/backups/import_record"), json=body, owner=world.owner)


async def _backup_action(world: World, role: str, action: str) -> Call:
    backup = await _fresh_backup(world)
    args = {"status": "error"} if action == "os-reset_status" else {}
    path = _vpath(world, f"/backups/{backup}/action")
    return Call(path=path, json={action: args}, owner=world.owner)


async def _create_qos(world: World, role: str) -> Call:
    body = {"qos_specs": {"name": world.unique("qos"), "consumer": "both", "read_iops_sec": "1"}}
    return Call(path=_vpath(world, "/qos-specs"), json=body, owner=world.owner)


VOLUME_ACTIONS: dict[str, tuple[str, Any]] = {
    # action: (the state of the fresh volume it acts on, its arguments)
    "os-extend": ("available", {"new_size": 2}),
    "os-reset_status": ("available", {"status": "error"}),
    "os-force_delete": ("available", {}),
    "os-set_bootable": ("available", {"bootable": True}),
    "os-update_readonly_flag": ("available", {"readonly": True}),
    "os-reserve": ("available", None),
    "os-unreserve": ("attaching", None),
    "os-begin_detaching": ("in-use", None),
    "os-roll_detaching": ("detaching", None),
    "os-attach": ("available", {"instance_uuid": str(uuid.uuid4()), "mountpoint": "/dev/vdc"}),
    "os-detach": ("in-use", {}),
    "os-force_detach": ("in-use", {}),
    "os-volume_upload_image": ("available", {"image_name": "uploaded"}),
    "os-retype": ("available", None),  # the new type is made for each call
    "os-set_image_metadata": ("available", {"metadata": {"k": "v"}}),
    "os-unset_image_metadata": ("available", {"key": "k"}),
    "os-show_image_metadata": ("available", None),
}


async def _volume_action(world: World, role: str, action: str) -> Call:
    state, args = VOLUME_ACTIONS[action]
    volume = await _fresh_volume(world, state)
    if action == "os-retype":
        args = {"new_type": await _fresh_type(world)}
    if action == "os-unset_image_metadata":
        await world.cloud.api.volume.set_image_metadata(world.member, volume, {"k": "v"})
    path = _vpath(world, f"/volumes/{volume}/action")
    return Call(path=path, json={action: args}, owner=world.owner)


async def _snapshot_action(world: World, role: str, action: str) -> Call:
    snapshot = await _fresh_snapshot(world)
    args: dict[str, Any] = {}
    if action == "os-reset_status":
        args = {"status": "error"}
    if action == "os-update_snapshot_status":
        admin = world.contexts["admin"]
        await world.cloud.api.volume.snapshot_reset_status(admin, snapshot, "creating")
        args = {"status": "available", "progress": "100%"}
    path = _vpath(world, f"/snapshots/{snapshot}/action")
    return Call(path=path, json={action: args}, owner=world.owner)


async def _type_action(world: World, role: str, action: str) -> Call:
    type_id = await _fresh_type(world, public=False)
    project = world.contexts["other_member"].project_id or ""
    if action == "removeProjectAccess":
        await world.cloud.api.volume.type_access_add(world.contexts["admin"], type_id, project)
    path = _vpath(world, f"/types/{type_id}/action")
    return Call(path=path, json={action: {"project": project}}, owner=world.owner)


# -- admin compute: each call acts on a flavor (or group, aggregate, ...) made for it.


async def _fresh_flavor(world: World, *, public: bool = True, **specs: str) -> str:
    flavor = objects.Flavor(
        flavorid=_fresh("flv"),
        name=_fresh("flv"),
        vcpus=1,
        memory_mb=64,
        root_gb=1,
        is_public=public,
        extra_specs=dict(specs),
    )
    await world.cloud.api.conductor.flavor_create(world.contexts["admin"], flavor)
    return flavor.flavorid


def _on_fresh_flavor(rest: str, body: Any = None, *, public: bool = True, **kw: str) -> Builder:
    async def build(world: World, role: str) -> Call:
        flavor = await _fresh_flavor(world, public=public, **kw)
        path = f"{COMPUTE}/flavors/{flavor}{rest}"
        return Call(path=path, json=body, headers=dict(V255))

    return build


async def _flavor_action(world: World, role: str, action: str) -> Call:
    flavor = await _fresh_flavor(world, public=False)
    project = world.contexts["other_member"].project_id or ""
    if action == "removeTenantAccess":
        await world.cloud.api.conductor.flavor_access_add(world.contexts["admin"], flavor, project)
    body = {action: {"tenant": project}}
    return Call(path=f"{COMPUTE}/flavors/{flavor}/action", json=body)


def _quota_set(rest: str = "", body: Any = None, *, fresh: bool = False) -> Builder:
    """A call on the owner's quotas (or, for changes, on a project of its own)."""

    async def build(world: World, role: str) -> Call:
        project = _fresh("proj") if fresh else world.owner
        path = f"{COMPUTE}/os-quota-sets/{project}{rest}"
        return Call(path=path, json=body, owner=project)

    return build


async def _fresh_server_group(world: World) -> str:
    member = world.member
    group = objects.ServerGroup(
        uuid=str(uuid.uuid4()),
        name=_fresh("grp"),
        project_id=member.project_id or "",
        user_id=member.user_id or "",
        policy="anti-affinity",
    )
    return (await world.cloud.api.conductor.server_group_create(member, group)).uuid


async def _on_fresh_group(world: World, role: str) -> Call:
    path = f"{COMPUTE}/os-server-groups/{await _fresh_server_group(world)}"
    return Call(path=path, owner=world.owner)


async def _create_group(world: World, role: str) -> Call:
    body = {"server_group": {"name": _fresh("grp"), "policies": ["affinity"]}}
    return Call(path=f"{COMPUTE}/os-server-groups", json=body)


async def _fresh_aggregate(world: World, *hosts: str) -> int:
    admin = world.contexts["admin"]
    aggregate = await world.cloud.api.conductor.aggregate_create(admin, _fresh("agg"))
    for host in hosts:
        await world.cloud.api.conductor.aggregate_add_host(admin, aggregate.id, host)
    return aggregate.id


def _on_fresh_aggregate(rest: str = "", body: Any = None) -> Builder:
    async def build(world: World, role: str) -> Call:
        path = f"{COMPUTE}/os-aggregates/{await _fresh_aggregate(world)}{rest}"
        return Call(path=path, json=body)

    return build


async def _create_aggregate(world: World, role: str) -> Call:
    body = {"aggregate": {"name": _fresh("agg")}}
    return Call(path=f"{COMPUTE}/os-aggregates", json=body)


AGGREGATE_ACTIONS: dict[str, Any] = {
    "add_host": {"host": "compute1"},
    "remove_host": {"host": "compute1"},
    "set_metadata": {"metadata": {"k": "v"}},
}


async def _aggregate_action(world: World, role: str, action: str) -> Call:
    hosts = ("compute1",) if action == "remove_host" else ()
    aggregate = await _fresh_aggregate(world, *hosts)
    body = {action: AGGREGATE_ACTIONS[action]}
    return Call(path=f"{COMPUTE}/os-aggregates/{aggregate}/action", json=body)


async def _host_update(world: World, role: str) -> Call:
    return Call(path=f"{COMPUTE}/os-hosts/compute1", json={"status": "enable"})


def _quota_class(body: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        return Call(path=f"{COMPUTE}/os-quota-class-sets/matrix", json=body)

    return build


async def _external_events(world: World, role: str) -> Call:
    body = {"events": [{"name": "network-changed", "server_uuid": world.server}]}
    return Call(path=f"{COMPUTE}/os-server-external-events", json=body, owner=world.owner)


async def _swap_volume(world: World, role: str) -> Call:
    path = f"{COMPUTE}/servers/{world.server}/os-volume_attachments/{world.attached}"
    body = {"volumeAttachment": {"volumeId": world.volume}}
    return Call(path=path, json=body, owner=world.owner, hidden=True)


async def _assisted_snapshot(world: World, role: str) -> Call:
    info = {"snapshot_id": str(uuid.uuid4()), "type": "qcow2", "new_file": "snap.qcow2"}
    body = {"snapshot": {"volume_id": world.attached, "create_info": info}}
    return Call(path=f"{COMPUTE}/os-assisted-volume-snapshots", json=body, owner=world.owner)


async def _delete_assisted_snapshot(world: World, role: str) -> Call:
    info = json.dumps({"volume_id": world.attached})
    path = f"{COMPUTE}/os-assisted-volume-snapshots/{uuid.uuid4()}?delete_info={info}"
    return Call(path=path, owner=world.owner)


ADMIN_COMPUTE_BUILDERS: dict[str, Builder] = {
    "compute_create_external_events": _external_events,
    "compute_swap_volume": _swap_volume,
    "compute_create_assisted_snapshot": _assisted_snapshot,
    "compute_delete_assisted_snapshot": _delete_assisted_snapshot,
    "compute_update_flavor": _on_fresh_flavor("", {"flavor": {"description": "d"}}),
    "compute_delete_flavor": _on_fresh_flavor(""),
    "compute_list_flavor_extra_specs": _on_fresh_flavor("/os-extra_specs", k="v"),
    "compute_create_flavor_extra_specs": _on_fresh_flavor(
        "/os-extra_specs", {"extra_specs": {"k": "v"}}
    ),
    "compute_show_flavor_extra_spec": _on_fresh_flavor("/os-extra_specs/k", k="v"),
    "compute_update_flavor_extra_spec": _on_fresh_flavor("/os-extra_specs/k", {"k": "w"}, k="v"),
    "compute_delete_flavor_extra_spec": _on_fresh_flavor("/os-extra_specs/k", k="v"),
    "compute_list_flavor_access": _on_fresh_flavor("/os-flavor-access", public=False),
    "compute_show_server_diagnostics": _owned(lambda w: _servers(w, "/diagnostics")),
    "compute_show_quota_set": _quota_set(),
    "compute_show_quota_set_detail": _quota_set("/detail"),
    "compute_show_default_quota_set": _quota_set("/defaults"),
    "compute_update_quota_set": _quota_set("", {"quota_set": {"metadata_items": 64}}, fresh=True),
    "compute_delete_quota_set": _quota_set(fresh=True),
    "compute_show_quota_class_set": _fixed(f"{COMPUTE}/os-quota-class-sets/matrix"),
    "compute_update_quota_class_set": _quota_class({"quota_class_set": {"key_pairs": 50}}),
    "compute_list_server_groups": _fixed(f"{COMPUTE}/os-server-groups"),
    "compute_create_server_group": _create_group,
    "compute_show_server_group": _on_fresh_group,
    "compute_delete_server_group": _on_fresh_group,
    "compute_list_aggregates": _fixed(f"{COMPUTE}/os-aggregates"),
    "compute_create_aggregate": _create_aggregate,
    "compute_show_aggregate": _on_fresh_aggregate(),
    "compute_update_aggregate": _on_fresh_aggregate("", {"aggregate": {"name": _fresh("agg")}}),
    "compute_delete_aggregate": _on_fresh_aggregate(),
    "compute_list_availability_zones": _fixed(f"{COMPUTE}/os-availability-zone"),
    "compute_list_availability_zones_detail": _fixed(f"{COMPUTE}/os-availability-zone/detail"),
    "compute_hypervisor_statistics": _fixed(f"{COMPUTE}/os-hypervisors/statistics"),
    "compute_hypervisor_uptime": _fixed(f"{COMPUTE}/os-hypervisors/1/uptime"),
    "compute_search_hypervisors": _fixed(f"{COMPUTE}/os-hypervisors/compute/search"),
    "compute_hypervisor_servers": _fixed(f"{COMPUTE}/os-hypervisors/compute/servers"),
    "compute_list_hosts": _fixed(f"{COMPUTE}/os-hosts"),
    "compute_show_host": _fixed(f"{COMPUTE}/os-hosts/compute1"),
    "compute_update_host": _host_update,
    "compute_startup_host": _fixed(f"{COMPUTE}/os-hosts/compute1/startup"),
    "compute_shutdown_host": _fixed(f"{COMPUTE}/os-hosts/compute1/shutdown"),
    "compute_reboot_host": _fixed(f"{COMPUTE}/os-hosts/compute1/reboot"),
    "compute_list_tenant_usages": _fixed(f"{COMPUTE}/os-simple-tenant-usage"),
    "compute_list_migrations": _fixed(f"{COMPUTE}/os-migrations"),
    "compute_list_compute_networks": _fixed(f"{COMPUTE}/os-networks"),
    "compute_show_compute_network": _owned(
        lambda w: f"{COMPUTE}/os-networks/{w.network}", hidden=True
    ),
    "compute_list_usage_audit_logs": _fixed(f"{COMPUTE}/os-instance_usage_audit_log"),
    "compute_show_usage_audit_log": _fixed(
        f"{COMPUTE}/os-instance_usage_audit_log/2026-12-01%2010:00:00"
    ),
    "compute_list_server_migrations": _owned(
        lambda w: _servers(w, "/migrations"), headers={"OpenStack-API-Version": "compute 2.23"}
    ),
    "compute_show_tenant_usage": _owned(
        lambda w: f"{COMPUTE}/os-simple-tenant-usage/{w.owner}", hidden=False
    ),
}


async def _action(world: World, role: str, action: str) -> Call:
    # Actions that take the server away, or reset it under whatever else it is doing.
    fresh = action in ("forceDelete", "migrate", "os-migrateLive", "os-resetState")
    server = await world.new_server() if fresh else world.server
    body = {action: ACTION_BODIES.get(action)}
    if action == "removeSecurityGroup":  # the admin's call took it off: put it back
        await world.cloud.api.network.add_instance_security_group(world.member, server, "default")
    if action in ("addFloatingIp", "removeFloatingIp"):
        address = await _routed_floating_ip(world, associated=action == "removeFloatingIp")
        body = {action: {"address": address}}
    path = f"{COMPUTE}/servers/{server}/action"
    return Call(path=path, json=body, owner=world.owner, hidden=True)


# -- the server surface's records: key pairs (the caller's own), metadata, tags, images


PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsNe3/1ILNCqFyfYWDeTKLD6jEXC2OQHLmietMWW+/vd"
    "aZq7KZEwO0jhglaFjU1mpqq4Gz5RX156sCTNM9vRbwKAxfsdF9laBYVsex3m3Wmui3uYrKyumsoJn2g9GNnG1P"
    "I1mrVjZ61i0GY3khna+wzlTpCCmy5HNlrmbj3XLqBUpipTOXmsnr4sChzC53KCd8LXuwc1i/CZPvF+3XipvAgFSE"
    "53pCtLOeB1kYMOBaiUPLQTWXR3JpckqFIQwhIH0zoHlJvZE8hh90XcPojYN56tI0OlrGqojbediJYD0rUsJu4we"
    "Zpbn8vilb3JuDY+jwssnSA8wzBx3A/8y9Pp1B nova@ubuntu"
)
TAGS_VERSION = {"OpenStack-API-Version": "compute 2.26"}


def _keypair_target(world: World, role: str) -> dict[str, Any]:
    ctx = world.contexts.get(role)
    return {"user_id": ctx.user_id if ctx else None}


async def _own_keypair(world: World, role: str) -> Call:
    """A key pair of the caller's own user, at its URL."""
    name = world.unique("kp")
    ctx = world.contexts.get(role)
    if ctx is not None:
        keypair = KeyPair(
            id=0, name=name, user_id=ctx.user_id or "", type="ssh", public_key=PUBLIC_KEY,
            fingerprint="f",
        )  # fmt: skip
        await world.cloud.api.conductor.keypair_create(ctx, keypair)
    return Call(path=f"{COMPUTE}/os-keypairs/{name}", target=_keypair_target(world, role))


async def _list_keypairs(world: World, role: str) -> Call:
    return Call(path=f"{COMPUTE}/os-keypairs", target=_keypair_target(world, role))


async def _create_keypair(world: World, role: str) -> Call:
    body = {"keypair": {"name": world.unique("kp"), "public_key": PUBLIC_KEY}}
    return Call(path=f"{COMPUTE}/os-keypairs", json=body, target=_keypair_target(world, role))


def _server_record(rest: str, **extra: Any) -> Builder:
    """A call on the world's server's records, with its metadata item ``k`` and tag ``t``."""

    async def build(world: World, role: str) -> Call:
        admin = world.contexts["admin"]
        await world.cloud.api.conductor.instance_edit_metadata(admin, world.server, {"k": "v"}, [])
        await world.cloud.api.conductor.instance_edit_tags(admin, world.server, ["t"], [])
        return Call(path=_servers(world, rest), owner=world.owner, hidden=True, **extra)

    return build


async def _fresh_image_call(world: World, rest: str = "", **extra: Any) -> Call:
    image = await world.cloud.api.image.create(world.member, _fresh("img"), properties={"k": "v"})
    path = f"{COMPUTE}/images/{image.id}{rest}"
    return Call(path=path, owner=world.owner, hidden=True, **extra)


def _on_fresh_image(rest: str = "", **extra: Any) -> Builder:
    async def build(world: World, role: str) -> Call:
        return await _fresh_image_call(world, rest, **extra)

    return build


RECORD_BUILDERS: dict[str, Builder] = {
    "compute_list_keypairs": _list_keypairs,
    "compute_create_keypair": _create_keypair,
    "compute_show_keypair": _own_keypair,
    "compute_delete_keypair": _own_keypair,
    "compute_list_server_metadata": _server_record("/metadata"),
    "compute_create_server_metadata": _server_record("/metadata", json={"metadata": {"a": "b"}}),
    "compute_replace_server_metadata": _server_record("/metadata", json={"metadata": {"k": "v"}}),
    "compute_show_server_metadata_item": _server_record("/metadata/k"),
    "compute_set_server_metadata_item": _server_record("/metadata/k", json={"meta": {"k": "w"}}),
    "compute_delete_server_metadata_item": _server_record("/metadata/k"),
    "compute_list_server_tags": _server_record("/tags", headers=TAGS_VERSION),
    "compute_replace_server_tags": _server_record(
        "/tags", json={"tags": ["t"]}, headers=TAGS_VERSION
    ),
    "compute_delete_server_tags": _server_record("/tags", headers=TAGS_VERSION),
    "compute_check_server_tag": _server_record("/tags/t", headers=TAGS_VERSION),
    "compute_add_server_tag": _server_record("/tags/u", headers=TAGS_VERSION),
    "compute_delete_server_tag": _server_record("/tags/t", headers=TAGS_VERSION),
    "compute_list_server_ips": _server_record("/ips"),
    "compute_show_server_ips": _server_record("/ips/private"),
    "compute_show_server_password": _server_record("/os-server-password"),
    "compute_clear_server_password": _server_record("/os-server-password"),
    "compute_list_images": _fixed(f"{COMPUTE}/images"),
    "compute_list_images_detail": _fixed(f"{COMPUTE}/images/detail"),
    "compute_show_image": _owned(lambda w: f"{COMPUTE}/images/{w.image}"),
    "compute_delete_image": _on_fresh_image(),
    "compute_list_image_metadata": _on_fresh_image("/metadata"),
    "compute_create_image_metadata": _on_fresh_image("/metadata", json={"metadata": {"a": "b"}}),
    "compute_replace_image_metadata": _on_fresh_image("/metadata", json={"metadata": {"a": "b"}}),
    "compute_show_image_metadata_item": _on_fresh_image("/metadata/k"),
    "compute_set_image_metadata_item": _on_fresh_image("/metadata/k", json={"meta": {"k": "w"}}),
    "compute_delete_image_metadata_item": _on_fresh_image("/metadata/k"),
}


async def _fresh_owned_volume(world: World) -> str:
    return await world.new_volume()


async def _create_proxy_snapshot(world: World, role: str) -> Call:
    body = {"snapshot": {"volume_id": world.volume, "display_name": "snap"}}
    return Call(path=f"{COMPUTE}/os-snapshots", json=body, owner=world.owner, hidden=True)


# Nova's volume proxy (below 2.36) and its frozen extension list.
COMPUTE_VOLUME_BUILDERS: dict[str, Builder] = {
    "compute_list_proxy_volumes": _fixed(f"{COMPUTE}/os-volumes"),
    "compute_list_proxy_volumes_detail": _fixed(f"{COMPUTE}/os-volumes/detail"),
    "compute_show_proxy_volume": _compute_owned("os-volumes", _fresh_owned_volume),
    "compute_create_proxy_volume": _fixed_body(f"{COMPUTE}/os-volumes", {"volume": {"size": 1}}),
    "compute_delete_proxy_volume": _compute_owned("os-volumes", _fresh_owned_volume),
    "compute_list_proxy_snapshots": _fixed(f"{COMPUTE}/os-snapshots"),
    "compute_list_proxy_snapshots_detail": _fixed(f"{COMPUTE}/os-snapshots/detail"),
    "compute_show_proxy_snapshot": _compute_owned("os-snapshots", _fresh_snapshot),
    "compute_create_proxy_snapshot": _create_proxy_snapshot,
    "compute_delete_proxy_snapshot": _compute_owned("os-snapshots", _fresh_snapshot),
    "compute_list_extensions": _fixed(f"{COMPUTE}/extensions"),
    "compute_show_extension": _fixed(f"{COMPUTE}/extensions/os-consoles"),
}


BUILDERS: dict[str, Builder] = {
    **RECORD_BUILDERS,
    "identity_versions": _fixed("/"),
    "identity_version": _fixed(IDENTITY),
    "identity_version_slash": _fixed(IDENTITY + "/"),
    "identity_openapi": _fixed("/openapi.json"),
    "identity_issue_token": _issue,
    "identity_token_projects": _fixed("/v3/auth/projects"),
    "identity_check_token_head": _subject,
    "identity_check_token": _subject,
    "identity_revoke_token": _revoke,
    "identity_list_projects": _fixed("/v3/projects"),
    "identity_list_users": _fixed("/v3/users"),
    "compute_versions": _fixed("/compute"),
    "compute_versions_slash": _fixed("/compute/"),
    "compute_version": _fixed(COMPUTE),
    "compute_version_slash": _fixed(COMPUTE + "/"),
    "compute_legacy_version": _fixed("/compute/v2"),
    "compute_legacy_version_slash": _fixed("/compute/v2/"),
    "compute_list_flavors": _fixed(f"{COMPUTE}/flavors"),
    "compute_list_flavors_detail": _fixed(f"{COMPUTE}/flavors/detail"),
    "compute_show_flavor": _fixed(f"{COMPUTE}/flavors/1"),
    "compute_create_flavor": _create_flavor,
    "compute_limits": _fixed(f"{COMPUTE}/limits"),
    "compute_list_hypervisors": _fixed(f"{COMPUTE}/os-hypervisors"),
    "compute_list_hypervisors_detail": _fixed(f"{COMPUTE}/os-hypervisors/detail"),
    "compute_show_hypervisor": _fixed(f"{COMPUTE}/os-hypervisors/1"),
    "compute_list_services": _fixed(f"{COMPUTE}/os-services"),
    "compute_list_servers": _fixed(f"{COMPUTE}/servers"),
    "compute_list_servers_detail": _fixed(f"{COMPUTE}/servers/detail"),
    "compute_create_server": _create_server,
    "compute_show_server": _owned(_servers),
    "compute_update_server": _owned(_servers, json={"server": {"name": "renamed"}}),
    "compute_delete_server": _delete_server,
    "compute_list_instance_actions": _owned(lambda w: _servers(w, "/os-instance-actions")),
    "compute_show_instance_action": _owned(
        lambda w: _servers(w, f"/os-instance-actions/{w.request_id}")
    ),
    "compute_list_volume_attachments": _owned(lambda w: _servers(w, "/os-volume_attachments")),
    "compute_show_volume_attachment": _owned(
        lambda w: _servers(w, f"/os-volume_attachments/{w.attached}")
    ),
    "compute_attach_volume": _attach,
    "compute_detach_volume": _detach,
    "image_versions": _fixed("/image"),
    "image_versions_slash": _fixed("/image/"),
    "image_list_images": _fixed(f"{IMAGE}/images"),
    "image_create_image": _create_image,
    "image_show_image": _owned(lambda w: f"{IMAGE}/images/{w.image}"),
    "image_delete_image": _delete_image,
    "image_upload_image": _upload_image,
    "image_download_image": _owned(lambda w: f"{IMAGE}/images/{w.image}/file"),
    "image_versions_explicit": _fixed("/image/versions"),
    "image_stage_image": _stage_image,
    "image_import_image": _import_image,
    "image_list_image_tasks": _owned(lambda w: f"{IMAGE}/images/{w.image}/tasks"),
    "image_create_task": _fixed_body(f"{IMAGE}/tasks", IMPORT_TASK),
    "image_list_tasks": _fixed(f"{IMAGE}/tasks"),
    "image_show_task": _show_task,
    "image_update_image": _patch_image,
    "image_add_tag": _owned(lambda w: f"{IMAGE}/images/{w.image}/tags/matrix"),
    "image_delete_tag": _delete_tag,
    "image_deactivate_image": _deactivate_image,
    "image_reactivate_image": _reactivate_image,
    "image_list_members": _list_members,
    "image_add_member": _add_member,
    "image_show_member": _show_member,
    "image_update_member": _update_member,
    "image_delete_member": _delete_member,
    "image_list_metadef_namespaces": _fixed(f"{IMAGE}/metadefs/namespaces"),
    "image_create_metadef_namespace": _create_namespace,
    "image_show_metadef_namespace": _in_namespace(),
    "image_update_metadef_namespace": _in_namespace(json={"namespace": "renamed"}),
    "image_delete_metadef_namespace": _in_namespace(),
    "image_list_metadef_resource_types": _fixed(f"{IMAGE}/metadefs/resource_types"),
    "image_list_metadef_associations": _in_namespace("/resource_types"),
    "image_create_metadef_association": _in_namespace(
        "/resource_types", json={"name": "OS::Nova::Flavor"}
    ),
    "image_delete_metadef_association": _in_namespace("/resource_types/OS::Glance::Image"),
    "image_list_metadef_properties": _in_namespace("/properties"),
    "image_create_metadef_property": _unique_body("/properties", title="T", type="string"),
    "image_show_metadef_property": _in_namespace("/properties/p"),
    "image_update_metadef_property": _in_namespace(
        "/properties/p", json={"name": "p", "title": "P2", "type": "string"}
    ),
    "image_delete_metadef_property": _in_namespace("/properties/p"),
    "image_list_metadef_objects": _in_namespace("/objects"),
    "image_create_metadef_object": _unique_body("/objects"),
    "image_show_metadef_object": _in_namespace("/objects/o"),
    "image_update_metadef_object": _in_namespace("/objects/o", json={"name": "o2"}),
    "image_delete_metadef_object": _in_namespace("/objects/o"),
    "image_list_metadef_tags": _in_namespace("/tags"),
    "image_create_metadef_tags": _in_namespace("/tags", json={"tags": [{"name": "a"}]}),
    "image_delete_metadef_tags": _in_namespace("/tags"),
    "image_create_metadef_tag": _in_namespace("/tags/new"),
    "image_show_metadef_tag": _in_namespace("/tags/t"),
    "image_update_metadef_tag": _in_namespace("/tags/t", json={"name": "t2"}),
    "image_delete_metadef_tag": _in_namespace("/tags/t"),
    "image_show_schema": _fixed(f"{IMAGE}/schemas/image"),
    "image_show_metadef_schema": _fixed(f"{IMAGE}/schemas/metadefs/namespace"),
    "image_import_info": _fixed(f"{IMAGE}/info/import"),
    "image_stores_info": _fixed(f"{IMAGE}/info/stores"),
    "network_versions": _fixed("/network"),
    "network_versions_slash": _fixed("/network/"),
    "network_extensions": _fixed(f"{NETWORK}/extensions"),
    "network_list_networks": _fixed(f"{NETWORK}/networks"),
    "network_create_network": _create_network,
    "network_show_network": _owned(lambda w: f"{NETWORK}/networks/{w.network}"),
    "network_delete_network": _delete_network,
    "network_list_ports": _fixed(f"{NETWORK}/ports"),
    "network_show_port": _owned(lambda w: f"{NETWORK}/ports/{w.port}"),
    "network_list_subnets": _fixed(f"{NETWORK}/subnets"),
    "network_create_subnet": _create_subnet,
    "network_show_subnet": _owned(lambda w: f"{NETWORK}/subnets/{w.subnet}"),
    "network_create_router": _fixed_body(f"{NETWORK}/routers", {"router": {"name": "r"}}),
    "network_create_security_group": _fixed_body(
        f"{NETWORK}/security-groups", {"security_group": {"name": "g"}}
    ),
    "network_create_subnetpool": _fixed_body(
        f"{NETWORK}/subnetpools", {"subnetpool": {"name": "p", "prefixes": ["10.66.0.0/16"]}}
    ),
    **NETWORK_BUILDERS,
    **COMPUTE_NETWORK_BUILDERS,
    **COMPUTE_VOLUME_BUILDERS,
    "volume_versions": _fixed("/volume"),
    "volume_versions_slash": _fixed("/volume/"),
    "volume_version": _fixed("/volume/v3"),
    "volume_version_slash": _fixed("/volume/v3/"),
    "volume_limits": _owned(lambda w: _volumes(w, "/limits"), hidden=False),
    "volume_list_volumes": _owned(lambda w: _volumes(w, "/volumes"), hidden=False),
    "volume_list_volumes_detail": _owned(lambda w: _volumes(w, "/volumes/detail"), hidden=False),
    "volume_create_volume": _create_volume,
    "volume_show_volume": _owned(lambda w: _volumes(w, f"/volumes/{w.volume}"), hidden=False),
    "volume_delete_volume": _delete_volume,
    "volume_volumes_summary": _vowned("/volumes/summary"),
    "volume_update_volume": _vowned(
        lambda w: f"/volumes/{w.volume}", json={"volume": {"display_name": "renamed"}}
    ),
    "volume_show_volume_metadata": _vowned(lambda w: f"/volumes/{w.volume}/metadata"),
    "volume_create_volume_metadata": _vowned(
        lambda w: f"/volumes/{w.volume}/metadata", json={"metadata": {"a": "b"}}
    ),
    "volume_update_volume_metadata": _vowned(
        lambda w: f"/volumes/{w.volume}/metadata", json={"metadata": {"a": "c"}}
    ),
    "volume_show_volume_metadata_item": _on_fresh_volume(
        "/volumes/{}/metadata/k", metadata={"k": "v"}
    ),
    "volume_update_volume_metadata_item": _vowned(
        lambda w: f"/volumes/{w.volume}/metadata/k", json={"meta": {"k": "w"}}
    ),
    "volume_delete_volume_metadata_item": _on_fresh_volume(
        "/volumes/{}/metadata/k", metadata={"k": "v"}
    ),
    "volume_list_snapshots": _vowned("/snapshots"),
    "volume_list_snapshots_detail": _vowned("/snapshots/detail"),
    "volume_create_snapshot": _create_snapshot,
    "volume_show_snapshot": _on_fresh_snapshot("/snapshots/{}"),
    "volume_update_snapshot": _on_fresh_snapshot(
        "/snapshots/{}", {"snapshot": {"name": "renamed"}}
    ),
    "volume_delete_snapshot": _on_fresh_snapshot("/snapshots/{}"),
    "volume_show_snapshot_metadata": _on_fresh_snapshot("/snapshots/{}/metadata"),
    "volume_create_snapshot_metadata": _on_fresh_snapshot(
        "/snapshots/{}/metadata", {"metadata": {"a": "b"}}
    ),
    "volume_update_snapshot_metadata": _on_fresh_snapshot(
        "/snapshots/{}/metadata", {"metadata": {"a": "c"}}
    ),
    "volume_show_snapshot_metadata_item": _on_fresh_snapshot(
        "/snapshots/{}/metadata/k", metadata={"k": "v"}
    ),
    "volume_update_snapshot_metadata_item": _on_fresh_snapshot(
        "/snapshots/{}/metadata/k", {"meta": {"k": "w"}}
    ),
    "volume_delete_snapshot_metadata_item": _on_fresh_snapshot(
        "/snapshots/{}/metadata/k", metadata={"k": "v"}
    ),
    "volume_list_types": _vowned("/types"),
    "volume_create_type": _create_type,
    "volume_show_type": _vowned("/types/default"),
    "volume_update_type": _on_fresh_type("/types/{}", {"volume_type": {"description": "d"}}),
    "volume_delete_type": _on_fresh_type("/types/{}"),
    "volume_list_extra_specs": _on_fresh_type("/types/{}/extra_specs", extra_specs={"k": "v"}),
    "volume_create_extra_specs": _on_fresh_type(
        "/types/{}/extra_specs", {"extra_specs": {"k": "v"}}
    ),
    "volume_show_extra_spec": _on_fresh_type("/types/{}/extra_specs/k", extra_specs={"k": "v"}),
    "volume_update_extra_spec": _on_fresh_type("/types/{}/extra_specs/k", {"k": "w"}),
    "volume_delete_extra_spec": _on_fresh_type("/types/{}/extra_specs/k", extra_specs={"k": "v"}),
    "volume_list_type_access": _on_fresh_type("/types/{}/os-volume-type-access", public=False),
    "volume_show_encryption": _encryption("/types/{0}/encryption"),
    "volume_show_encryption_item": _encryption("/types/{0}/encryption/provider"),
    "volume_create_encryption": _on_fresh_type(
        "/types/{}/encryption", {"encryption": {"provider": "luks"}}
    ),
    "volume_update_encryption": _encryption(
        "/types/{0}/encryption/{1}", {"encryption": {"key_size": 256}}
    ),
    "volume_delete_encryption": _encryption("/types/{0}/encryption/{1}"),
    "volume_show_quota_set": _vowned(lambda w: f"/os-quota-sets/{w.owner}"),
    "volume_show_default_quota_set": _vowned(lambda w: f"/os-quota-sets/{w.owner}/defaults"),
    "volume_update_quota_set": _vowned(
        lambda w: f"/os-quota-sets/{w.owner}", json={"quota_set": {"groups": -1}}
    ),
    "volume_delete_quota_set": _vowned(lambda w: f"/os-quota-sets/{w.owner}"),
    "volume_show_quota_class_set": _vowned("/os-quota-class-sets/default"),
    "volume_update_quota_class_set": _vowned(
        "/os-quota-class-sets/default", json={"quota_class_set": {"groups": -1}}
    ),
    "volume_list_services": _vowned("/os-services"),
    "volume_update_service": _update_service,
    "volume_list_hosts": _vowned("/os-hosts"),
    "volume_show_host": _on_volume_host("/os-hosts/{}"),
    "volume_list_availability_zones": _vown("/os-availability-zone"),
    "volume_get_pools": _vowned("/scheduler-stats/get_pools?detail=true"),
    "volume_show_capabilities": _on_volume_host("/capabilities/{}"),
    "volume_list_extensions": _vown("/extensions"),
    **_transfer_builders(),
    "volume_list_backups": _vowned("/backups"),
    "volume_list_backups_detail": _vowned("/backups/detail"),
    "volume_create_backup": _create_backup,
    "volume_import_backup": _import_backup,
    "volume_show_backup": _on_fresh_backup(""),
    "volume_update_backup": _on_fresh_backup(
        "", {"backup": {"name": "renamed"}}, **{"OpenStack-API-Version": "volume 3.9"}
    ),
    "volume_delete_backup": _on_fresh_backup(""),
    "volume_restore_backup": _on_fresh_backup("/restore", {"restore": {"name": "r"}}),
    "volume_export_backup": _on_fresh_backup("/export_record"),
    "volume_list_messages": _vowned("/messages"),
    "volume_show_message": _on_fresh_message(""),
    "volume_delete_message": _on_fresh_message(""),
    "volume_list_qos": _vowned("/qos-specs"),
    "volume_create_qos": _create_qos,
    "volume_show_qos": _on_fresh_qos(""),
    "volume_set_qos_keys": _on_fresh_qos("", {"qos_specs": {"k": "w"}}),
    "volume_delete_qos": _on_fresh_qos(""),
    "volume_unset_qos_keys": _on_fresh_qos("/delete_keys", {"keys": ["k"]}),
    "volume_associate_qos": _associate_qos,
    "volume_disassociate_qos": _disassociate_qos,
    "volume_disassociate_all_qos": _on_fresh_qos("/disassociate_all", associated=True),
    "volume_list_qos_associations": _on_fresh_qos("/associations", associated=True),
    **ADMIN_COMPUTE_BUILDERS,
}


def _identity(build: IdentityBuilder) -> Builder:
    async def call(world: World, role: str) -> Call:
        request = await build(world, role)
        return Call(**{key: value for key, value in request.items() if value is not None})

    return call


BUILDERS.update({name: _identity(build) for name, build in IDENTITY_BUILDERS.items()})


def _owned_by_demo(build: GroupBuilder) -> Builder:
    async def call(world: World, role: str) -> Call:
        return Call(**await build(world, role), owner=world.owner)

    return call


BUILDERS.update({name: _owned_by_demo(build) for name, build in GROUP_BUILDERS.items()})
ACTION_BUILDERS: dict[str, Callable[[World, str, str], Awaitable[Call]]] = {
    "compute_server_action": _action,
    "volume_volume_action": _volume_action,
    "volume_snapshot_action": _snapshot_action,
    "volume_type_action": _type_action,
    "volume_backup_action": _backup_action,
    "compute_flavor_action": _flavor_action,
    "compute_aggregate_action": _aggregate_action,
}
for _name, _build in GROUP_ACTION_BUILDERS.items():

    def _group_action(world: World, role: str, action: str, build: Any = _build) -> Awaitable[Call]:
        async def call() -> Call:
            return Call(**await build(world, role, action), owner=world.owner)

        return call()

    ACTION_BUILDERS[_name] = _group_action


def expected(
    enforcer: Enforcer, operation: Operation, role: str, world: World, call: Call
) -> set[int]:
    """The statuses the rule table allows for `role` calling `operation` as `call`."""
    if operation.rule is None:
        return set(operation.success)
    if role in ("no_token", "expired_token"):
        return {401}
    ctx = world.contexts[role]
    owner = call.owner or ctx.project_id
    target = {"project_id": owner, "visibility": "private", **call.target}
    if operation.rule == "@" or enforcer.check(ctx, operation.rule, target, creds=call.creds):
        return set(operation.success) | {409}
    if call.hidden and not ctx.is_admin and ctx.project_id != owner:
        return {404}
    return {403}


async def _expired_token(front: FrontEnd) -> str:
    identity = identity_of(front.cloud)
    clock = identity.now
    identity.now = lambda: utcnow() - datetime.timedelta(days=2)
    try:
        return await front.token("mia", "demo")
    finally:
        identity.now = clock


@pytest.fixture
async def world(clouds: CloudFactory) -> AsyncIterator[World]:
    """A cloud served over HTTP with a project ``demo`` owning one of everything."""
    unlimited = {
        "volume": {
            "quota_volumes": -1,
            "quota_snapshots": -1,
            "quota_gigabytes": -1,
            "quota_backups": -1,
            "quota_backup_gigabytes": -1,
            "quota_groups": -1,
        },
        "image": {"image_count_total": -1},
        "network": {
            f"quota_{resource}": -1
            for resource in ("port", "network", "subnet", "security_group", "router")
        }
        | {"quota_security_group_rule": -1, "quota_floatingip": -1},
    }
    cloud = await clouds.start(computes=2, api={"token_cache_ttl": 0}, **unlimited)
    front = await FrontEnd.start(cloud)
    try:
        admin = await cloud.login_admin()
        for name, project, role in (
            ("mia", "demo", "member"),
            ("rex", "demo", "reader"),
            ("sam", "beta", "member"),
        ):
            await add_user(cloud, admin, name, project=project, role=role)
        tokens: dict[str, str | None] = {
            "admin": await front.token("admin", "admin"),
            "owner_member": await front.token("mia", "demo"),
            "owner_reader": await front.token("rex", "demo"),
            "other_member": await front.token("sam", "beta"),
            "no_token": None,
            "expired_token": await _expired_token(front),
        }
        contexts = {
            role: await cloud.api.context_for(token)
            for role, token in tokens.items()
            if token is not None and role != "expired_token"
        }
        member = contexts["owner_member"]
        for ctx in contexts.values():
            await unlimited_quota(cloud, admin, ctx.project_id)
        world = World(
            front=front,
            tokens=tokens,
            contexts=contexts,
            owner=member.project_id or "",
            server="",
            image="",
            network="",
            volume="",
            port="",
            subnet="",
            request_id="",
            attached="",
        )
        world.tap = await NotificationTap.attach(cloud)
        (shared,) = await cloud.api.network.list_networks(member)
        world.shared_network = shared.id
        world.server = await world.new_server()
        world.spare = await world.new_server()
        image = await cloud.api.image.create(member, "demo-image")
        await cloud.api.image.upload(member, image.id, b"demo image data")
        world.image = image.id
        world.network = await world.new_network()
        subnet = await cloud.api.network.create_subnet(member, world.network, "10.8.0.0/24")
        world.subnet = subnet.id
        world.volume = await world.new_volume()
        ports = await cloud.api.network.list_ports(member, device_id=world.server)
        world.port = ports[0].id
        session = cloud.api.session(world._token("owner_member"))
        world.request_id = (await session.servers.actions(world.server))[0].request_id
        world.attached = await world.new_attachment()
        yield world
    finally:
        await front.aclose()


def test_every_route_names_its_policy_rule() -> None:
    """Each operation needing a token names a rule the enforcer knows; a new route must too."""
    enforcer = Enforcer()
    for operation in operations():
        if operation.rule is None:
            continue
        assert operation.rule == "@" or operation.rule in enforcer.rules, operation


def test_every_route_has_a_request_in_the_matrix() -> None:
    """The matrix knows how to call every documented operation, and nothing else."""
    assert {o.operation_id for o in operations()} == set(BUILDERS) | set(ACTION_BUILDERS)


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_the_policy_matrix_of_every_route(world: World) -> None:
    """Every route x caller answers the status its rule gives (see the module docstring)."""
    enforcer = Enforcer()
    mismatches = []
    cells = 0
    for operation in operations():
        for role in ROLES:
            if operation.action is not None:
                build = ACTION_BUILDERS[operation.operation_id]
                call = await build(world, role, operation.action)
            else:
                call = await BUILDERS[operation.operation_id](world, role)
            token = world.tokens[role]
            reply: Reply = await world.front.call(
                operation.method.upper(),
                call.path,
                token=token,
                json=call.json,
                data=call.data,
                headers=call.headers,
            )
            cells += 1
            wanted = expected(enforcer, operation, role, world, call)
            if reply.status not in wanted:
                name = operation.action or operation.operation_id
                mismatches.append(f"{name} {role}: {reply.status}, expected {sorted(wanted)}")
    print(f"policy matrix: {cells} cells ({cells // len(ROLES)} routes x {len(ROLES)} callers)")
    assert mismatches == [], f"{len(mismatches)} of {cells} cells:\n" + "\n".join(mismatches)
