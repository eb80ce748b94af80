"""The ``nova-lite`` client commands: servers, images, networks, volumes, flavors, ...

A client command connects to the broker the configuration names, authenticates with
identity (credentials from flags, ``NOVA_LITE_USERNAME``/``_PASSWORD``/``_PROJECT``,
or the ``[client]`` section), and sends its request with the token: server, flavor
and host requests to the api service, the others to their service. Output is a
table, or JSON with ``--format json``.

With an HTTP API URL (``--api-url``, ``NOVA_LITE_API_URL`` or ``[client] api_url``),
``server list/show/create/delete`` go over the OpenStack HTTP API instead (see
`nova_lite.api.http.client`), and need no broker credentials.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import click

from nova_lite import objects
from nova_lite.api.http.client import HttpApiClient
from nova_lite.api.manager import SERVER_ACTIONS
from nova_lite.api.rpcapi import ApiClient
from nova_lite.cli.output import Output
from nova_lite.cli.services import CONFIG_OPTION, load_config
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import NovaLiteError
from nova_lite.identity.rpcapi import IdentityAPI
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.loader import get_transport
from nova_lite.log import configure_logging
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.transport import Transport
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = [
    "audit",
    "flavor",
    "host",
    "image",
    "network",
    "project",
    "server",
    "user",
    "volume",
]


@attrs.define
class Client:
    """One command's connection, authenticated context and output."""

    config: Config
    transport: Transport
    ctx: RequestContext
    out: Output
    http_api: Any = None  # _OverHttp in HTTP mode

    @property
    def api(self) -> ApiClient:
        return self.http_api or ApiClient(self.transport, self.config)


class _OverHttp:
    """ApiClient's server methods, served over the HTTP API (the token is the client's)."""

    def __init__(self, http: HttpApiClient) -> None:
        self.http = http

    async def servers_create(self, ctx: RequestContext, **kwargs: Any) -> list[dict[str, Any]]:
        return await self.http.servers_create(**kwargs)

    async def servers_list(
        self, ctx: RequestContext, *, all_projects: bool = False
    ) -> list[dict[str, Any]]:
        return await self.http.servers_list(all_projects=all_projects)

    async def servers_get(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        return await self.http.servers_get(server_id)

    async def servers_delete(self, ctx: RequestContext, server_id: str) -> None:
        await self.http.servers_delete(server_id)

    async def servers_wait(
        self, ctx: RequestContext, server_id: str, status: list[str], timeout: float
    ) -> dict[str, Any]:
        return await self.http.servers_wait(server_id, status, seconds=timeout)


def client_command(
    group: click.Group | None, name: str | None = None, *, http: bool = False
) -> Callable[..., Any]:
    """Register an async ``fn(client, **options)`` as a command with the common options.

    With `http`, the command goes over the HTTP API when an API URL is configured.
    With no `group`, the command stands alone (``nova-lite audit``).
    """

    def register(fn: Callable[..., Awaitable[None]]) -> click.Command:
        make = group.command if group is not None else click.command

        @make(name or fn.__name__.replace("_", "-"))
        @CONFIG_OPTION
        @click.option("--username", envvar="NOVA_LITE_USERNAME", default=None)
        @click.option("--password", envvar="NOVA_LITE_PASSWORD", default=None)
        @click.option("--project", envvar="NOVA_LITE_PROJECT", default=None)
        @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
        @click.option(
            "--api-url",
            envvar="NOVA_LITE_API_URL",
            default=None,
            help="The HTTP API's URL (server list/show/create/delete use HTTP then).",
        )
        @functools.wraps(fn)
        def command(
            config_path: str | None,
            username: str | None,
            password: str | None,
            project: str | None,
            fmt: str,
            api_url: str | None,
            **options: Any,
        ) -> None:
            config = load_config(config_path)
            api_url = (api_url or config.client.api_url) if http else None
            configure_logging(format=config.logging.format, level="error")
            credentials = (
                username or config.client.username,
                password or config.client.password,
                project or config.client.project,
            )
            try:
                asyncio.run(_run(config, credentials, Output(fmt), fn, options, api_url))
            except NovaLiteError as exc:
                click.echo(f"nova-lite: {type(exc).__name__}: {exc}", err=True)
                sys.exit(1)

        return command

    return register


async def _run(
    config: Config,
    credentials: tuple[str, str, str],
    out: Output,
    fn: Callable[..., Awaitable[None]],
    options: dict[str, Any],
    api_url: str | None = None,
) -> None:
    username, password, project = credentials
    if not (username and password and project):
        click.echo(
            "nova-lite: credentials are needed: --username/--password/--project, "
            "NOVA_LITE_USERNAME/NOVA_LITE_PASSWORD/NOVA_LITE_PROJECT, or [client].",
            err=True,
        )
        sys.exit(2)
    if api_url:
        async with HttpApiClient(api_url, timeout=config.rpc.timeout) as http:
            ctx = RequestContext.from_token(
                await http.login(username, password, project), http.token
            )
            # The transport is never connected: over HTTP no broker is needed.
            client = Client(config, get_transport(config.transport_url), ctx, out)
            client.http_api = _OverHttp(http)
            await fn(client, **options)
        return
    async with get_transport(config.transport_url) as transport:
        identity = IdentityAPI(transport, config)
        result = await identity.authenticate(
            RequestContext(), username=username, password=password, project_name=project
        )
        info: objects.TokenInfo = result["token_info"]
        ctx = RequestContext.from_token(info, result["token"])
        await fn(Client(config, transport, ctx, out), **options)


# -- servers ---------------------------------------------------------------------

SERVER_COLUMNS = ("id", "name", "status", "host", "ip", "flavor")


def _server_row(server: dict[str, Any]) -> dict[str, Any]:
    addresses = server.get("addresses") or []
    return {**server, "ip": addresses[0].get("addr") if addresses else ""}


@click.group()
def server() -> None:
    """Create, inspect, act on and delete servers."""


async def _wait(client: Client, server_id: str, status: Iterable[str]) -> dict[str, Any]:
    with client.out.spinner(f"Waiting for {server_id} to reach {'/'.join(status)}"):
        return await client.api.servers_wait(client.ctx, server_id, list(status), timeout=600)


@client_command(server, "create", http=True)
@click.argument("name")
@click.option("--flavor", required=True)
@click.option("--image", default=None)
@click.option("--network", "networks", multiple=True)
@click.option("--count", default=1, show_default=True)
@click.option("--availability-zone", default=None)
@click.option("--wait", is_flag=True, help="Wait until the servers are ACTIVE (or ERROR).")
async def server_create(
    client: Client,
    name: str,
    flavor: str,
    image: str | None,
    networks: tuple[str, ...],
    count: int,
    availability_zone: str | None,
    wait: bool,
) -> None:
    """Create COUNT servers called NAME."""
    servers = await client.api.servers_create(
        client.ctx,
        name=name,
        flavor=flavor,
        image=image,
        networks=list(networks) or None,
        count=count,
        availability_zone=availability_zone,
    )
    if wait:
        servers = [await _wait(client, s["id"], ["ACTIVE"]) for s in servers]
    client.out.rows([_server_row(s) for s in servers], SERVER_COLUMNS)


@client_command(server, "list", http=True)
@click.option("--all-projects", is_flag=True)
async def server_list(client: Client, all_projects: bool) -> None:
    """The servers of your project (every project's for admins with --all-projects)."""
    servers = await client.api.servers_list(client.ctx, all_projects=all_projects)
    client.out.rows([_server_row(s) for s in servers], SERVER_COLUMNS)


@client_command(server, "show", http=True)
@click.argument("server_id")
async def server_show(client: Client, server_id: str) -> None:
    """Every field of one server."""
    client.out.record(_server_row(await client.api.servers_get(client.ctx, server_id)))


@client_command(server, "delete", http=True)
@click.argument("server_id")
@click.option("--wait", is_flag=True, help="Wait until the server is DELETED.")
async def server_delete(client: Client, server_id: str, wait: bool) -> None:
    """Delete a server."""
    await client.api.servers_delete(client.ctx, server_id)
    if wait:
        await _wait(client, server_id, ["DELETED"])
    client.out.message(f"Server {server_id} deleted." if wait else f"Deleting {server_id}.")


@client_command(server, "actions")
@click.argument("server_id")
async def server_actions(client: Client, server_id: str) -> None:
    """The server's recorded actions (os-instance-actions)."""
    actions = await client.api.servers_actions(client.ctx, server_id)
    client.out.rows(actions, ("action", "request_id", "start_time", "finish_time", "message"))


@client_command(server, "console")
@click.argument("server_id")
async def server_console(client: Client, server_id: str) -> None:
    """The tail of the server's serial console."""
    client.out.message(await client.api.servers_console(client.ctx, server_id))


def _action_command(action: str, arguments: tuple[str, ...]) -> None:
    """``nova-lite server <action> SERVER_ID [--argument VALUE ...] [--wait]``."""

    async def run(client: Client, server_id: str, wait: bool, **args: Any) -> None:
        args = {_ARGUMENT_NAMES.get(k, k): v for k, v in args.items() if v is not None}
        result = await client.api.servers_action(client.ctx, server_id, action, args)
        if wait:
            server_view = await _wait(client, server_id, _WAIT_FOR.get(action, ("ACTIVE",)))
            client.out.record(_server_row(server_view))
        else:
            client.out.message(f"{action} accepted" + (f": {result}" if result else "."))

    run.__name__ = f"server_{action}"
    run.__doc__ = f"Run the {action.replace('_', ' ')} action on a server."
    command = click.argument("server_id")(run)
    command = click.option("--wait", is_flag=True, help="Wait for the action to finish.")(command)
    for argument in arguments:
        if argument == "hard":
            command = click.option("--hard", is_flag=True, default=None)(command)
            continue
        dest = _OPTION_NAMES.get(argument, argument)
        kind = int if argument == "rotation" else str
        command = click.option(f"--{dest.replace('_', '-')}", dest, type=kind)(command)
    client_command(server, action.replace("_", "-"))(command)


# An action argument whose name is taken by a common option gets another option name.
_OPTION_NAMES = {"password": "admin_password"}
_ARGUMENT_NAMES = {option: argument for argument, option in _OPTION_NAMES.items()}


_WAIT_FOR: dict[str, tuple[str, ...]] = {
    "pause": ("PAUSED",),
    "suspend": ("SUSPENDED",),
    "stop": ("SHUTOFF",),
    "rescue": ("RESCUE",),
    "resize": ("VERIFY_RESIZE",),
    "shelve": ("SHELVED", "SHELVED_OFFLOADED"),
    "shelve_offload": ("SHELVED_OFFLOADED",),
    "soft_delete": ("SOFT_DELETED",),
    "force_delete": ("DELETED",),
}

for _action, _arguments in SERVER_ACTIONS.items():
    _action_command(_action, _arguments)


# -- images, networks, volumes -------------------------------------------------------

IMAGE_COLUMNS = ("id", "name", "status", "disk_format", "size", "visibility")


@click.group()
def image() -> None:
    """Upload, list, inspect and delete images."""


@client_command(image, "create")
@click.argument("name")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--disk-format", default="raw", show_default=True)
@click.option("--public", is_flag=True)
async def image_create(
    client: Client, name: str, path: str, disk_format: str, public: bool
) -> None:
    """Upload the file at PATH as a new image."""
    images = ImageAPI(client.transport, client.config)
    created = await images.create(
        client.ctx, name, disk_format=disk_format, visibility="public" if public else "private"
    )
    with client.out.spinner(f"Uploading {path}"):
        await images.upload(client.ctx, created.id, Path(path))
    client.out.record(attrs.asdict(await images.get(client.ctx, created.id)))


@client_command(image, "list")
async def image_list(client: Client) -> None:
    """The images you can see."""
    images = await ImageAPI(client.transport, client.config).list(client.ctx)
    client.out.rows([attrs.asdict(i) for i in images], IMAGE_COLUMNS)


@client_command(image, "show")
@click.argument("image_id")
async def image_show(client: Client, image_id: str) -> None:
    """Every field of one image."""
    found = await ImageAPI(client.transport, client.config).get(client.ctx, image_id)
    client.out.record(attrs.asdict(found))


@client_command(image, "delete")
@click.argument("image_id")
async def image_delete(client: Client, image_id: str) -> None:
    """Delete an image and its file."""
    await ImageAPI(client.transport, client.config).delete(client.ctx, image_id)
    client.out.message(f"Image {image_id} deleted.")


@click.group()
def network() -> None:
    """Create and list networks."""


@client_command(network, "create")
@click.argument("name")
@click.option("--cidr", required=True, help="The subnet's CIDR, e.g. 10.1.0.0/24.")
@click.option("--shared", is_flag=True)
async def network_create(client: Client, name: str, cidr: str, shared: bool) -> None:
    """Create a network with one subnet."""
    networks = NetworkAPI(client.transport, client.config)
    created = await networks.create_network(client.ctx, name, shared=shared)
    await networks.create_subnet(client.ctx, created.id, cidr)
    client.out.record(attrs.asdict(await networks.get_network(client.ctx, created.id)))


@client_command(network, "list")
async def network_list(client: Client) -> None:
    """The networks you can use."""
    found = await NetworkAPI(client.transport, client.config).list_networks(client.ctx)
    client.out.rows([attrs.asdict(n) for n in found], ("id", "name", "shared", "subnets"))


@click.group()
def volume() -> None:
    """Create and list volumes."""


@client_command(volume, "create")
@click.argument("size", type=int)
@click.option("--name", default="")
async def volume_create(client: Client, size: int, name: str) -> None:
    """Create a volume of SIZE GiB."""
    created = await VolumeAPI(client.transport, client.config).create(client.ctx, size, name=name)
    client.out.record(attrs.asdict(created))


@client_command(volume, "list")
async def volume_list(client: Client) -> None:
    """Your project's volumes."""
    found = await VolumeAPI(client.transport, client.config).list(client.ctx)
    client.out.rows(
        [attrs.asdict(v) for v in found], ("id", "name", "size", "status", "attached_to")
    )


# -- flavors, hosts, projects, users -------------------------------------------------


@click.group()
def flavor() -> None:
    """List and create flavors."""


@client_command(flavor, "list")
async def flavor_list(client: Client) -> None:
    """The flavors to boot from."""
    flavors = await client.api.flavors_list(client.ctx)
    client.out.rows(
        [attrs.asdict(f) for f in flavors], ("flavorid", "name", "vcpus", "memory_mb", "root_gb")
    )


@client_command(flavor, "create")
@click.argument("name")
@click.option("--id", "flavorid", required=True)
@click.option("--vcpus", type=int, required=True)
@click.option("--ram", type=int, required=True, help="MiB")
@click.option("--disk", type=int, required=True, help="GiB")
async def flavor_create(
    client: Client, name: str, flavorid: str, vcpus: int, ram: int, disk: int
) -> None:
    """Create a flavor (admins only)."""
    from nova_lite.conductor.rpcapi import ConductorAPI

    new = objects.Flavor(flavorid=flavorid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk)
    created = await ConductorAPI(client.transport, client.config).flavor_create(client.ctx, new)
    client.out.record(attrs.asdict(created))


@click.group()
def host() -> None:
    """Compute hosts."""


@client_command(host, "list")
async def host_list(client: Client) -> None:
    """Every compute host: up or down, and its usage (admins only)."""
    hosts = await client.api.hosts_list(client.ctx)
    client.out.rows(
        hosts,
        (
            "host",
            "state",
            "status",
            "running_vms",
            "vcpus_used",
            "vcpus",
            "memory_mb_used",
            "memory_mb",
        ),
    )


@click.group()
def project() -> None:
    """Projects (admins only)."""


@client_command(project, "create")
@click.argument("name")
@click.option("--description", default="")
async def project_create(client: Client, name: str, description: str) -> None:
    """Create a project."""
    identity = IdentityAPI(client.transport, client.config)
    client.out.record(await identity.create_project(client.ctx, name, description))


@client_command(project, "list")
async def project_list(client: Client) -> None:
    """Every project."""
    projects = await IdentityAPI(client.transport, client.config).list_projects(client.ctx)
    client.out.rows(projects, ("id", "name", "description"))


@click.group()
def user() -> None:
    """Users (admins only)."""


@client_command(user, "create")
@click.argument("name")
@click.option("--user-password", required=True, help="The new user's password.")
@click.option("--user-project", required=True, help="The project the user joins.")
@click.option(
    "--role", default="member", show_default=True, type=click.Choice(["admin", "member", "reader"])
)
async def user_create(
    client: Client, name: str, user_password: str, user_project: str, role: str
) -> None:
    """Create a user with a role on a project."""
    identity = IdentityAPI(client.transport, client.config)
    created = await identity.create_user(client.ctx, name, user_password, user_project, role)
    client.out.record(created)


@client_command(user, "list")
async def user_list(client: Client) -> None:
    """Every user."""
    users = await IdentityAPI(client.transport, client.config).list_users(client.ctx)
    client.out.rows(users, ("id", "name"))


# -- the audit -----------------------------------------------------------------------

AUDIT_COLUMNS = ("kind", "subject", "host", "detail")
REPAIR_COLUMNS = ("kind", "subject", "host", "repaired", "repair")
AUDIT_DISAGREES = 3  # the exit status when disagreements remain (nova-manage's style)


@client_command(None, "audit")
@click.option("--heal", is_flag=True, help="Repair what can be repaired safely, and say what.")
@click.option(
    "--stuck-after",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds a task_state may wait with nothing working on it before it counts as stuck.",
)
async def audit(client: Client, heal: bool, stuck_after: float) -> None:
    """Compare every service's books and list each disagreement (admins only).

    The scheduler's allocations, each compute host's resource tracker and
    hypervisor guests, the instances with their migrations and ports. Exits 0 when
    the books agree (or every disagreement was repaired), 3 otherwise.
    """
    report = await client.api.audit(client.ctx, heal=heal, stuck_after=stuck_after)
    if client.out.fmt == "json":
        client.out.record(report)
    elif heal:
        client.out.rows(report["repairs"], REPAIR_COLUMNS)
    elif report["findings"]:
        client.out.rows(report["findings"], AUDIT_COLUMNS)
    else:
        client.out.message("The books agree: no disagreement found.")
    unrepaired = [r for r in report["repairs"] if not r["repaired"]]
    if not report["clean"] and (not heal or unrepaired):
        sys.exit(AUDIT_DISAGREES)
