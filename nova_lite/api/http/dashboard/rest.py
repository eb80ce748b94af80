"""The dashboard's client of the HTTP API: REST calls to this server's own routes.

The dashboard never talks to the bus. Each page asks the same HTTP API the CLI and
openstacksdk use, with the signed-in user's Keystone token, so every answer has
been through the API's policy checks, schemas and state table exactly as any other
client's request. Calls go over loopback to the socket the page's request came in
on (not to ``[api] public_url``, which may name a proxy this process cannot reach)
and carry the page's request id as ``X-Openstack-Request-Id``, so the API's log
lines of a page share its id as their global request id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import attrs
from aiohttp import web
from multidict import CIMultiDictProxy

from nova_lite.api.http.client import server_from_http, token_info_from_keystone
from nova_lite.exceptions import Conflict, Forbidden, Invalid, NotAuthorized, NotFound, NovaError
from nova_lite.objects import TokenInfo

__all__ = ["COMPUTE", "ApiClient", "loopback_url"]

COMPUTE = "/compute/v2.1"
MICROVERSION = "compute 2.79"  # the CLI's: embedded flavors, ``locked``
_ERRORS: dict[int, type[NovaError]] = {
    400: Invalid,
    401: NotAuthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def loopback_url(request: web.Request) -> str:
    """The base URL of the socket `request` arrived on (this very server)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        raise NovaError("The dashboard cannot tell which address it is served on.")
    host, port = str(sockname[0]), int(sockname[1])
    host = f"[{host}]" if ":" in host else host
    return f"{request.scheme}://{host}:{port}"


def _message(status: int, body: Any) -> str:
    """The fault's message from any API's error body (``{"itemNotFound": {...}}``, ...)."""
    if isinstance(body, dict) and body:
        fault = next(iter(body.values()))
        if isinstance(fault, dict) and fault.get("message"):
            return str(fault["message"])
    return f"The API answered HTTP {status}."


@attrs.frozen(kw_only=True)
class ApiClient:
    """One page's calls to the HTTP API, as one user (`token`; empty before login)."""

    http: aiohttp.ClientSession
    base: str
    request_id: str
    token: str = ""

    def __repr__(self) -> str:
        return f"<ApiClient {self.base} {'signed in' if self.token else 'anonymous'}>"

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> tuple[Any, CIMultiDictProxy[str]]:
        """Send one request to `path`; its JSON body (None if none) and headers.

        An error status raises the `NovaError` subclass it stands for, with the fault's
        message: a 401 is `NotAuthorized`, a 409 `Conflict`, and so on.
        """
        sent = {"OpenStack-API-Version": MICROVERSION, "X-Openstack-Request-Id": self.request_id}
        if self.token:
            sent["X-Auth-Token"] = self.token
        sent.update(headers or {})
        async with self.http.request(method, self.base + path, json=body, headers=sent) as reply:
            data = await reply.json() if reply.content_type == "application/json" else None
            if reply.status >= 400:
                raise _ERRORS.get(reply.status, NovaError)(_message(reply.status, data))
            return data, reply.headers

    # -- identity -------------------------------------------------------------------------

    async def login(self, username: str, password: str, project: str) -> tuple[str, TokenInfo]:
        """Keystone's password method, scoped to `project`: the token and its holder."""
        domain = {"name": "Default"}
        user = {"name": username, "password": password, "domain": domain}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": project, "domain": domain}},
        }
        data, headers = await self.call("POST", "/v3/auth/tokens?nocatalog", {"auth": auth})
        return str(headers["X-Subject-Token"]), token_info_from_keystone(data["token"])

    async def whoami(self) -> TokenInfo:
        """Who the token belongs to (it is validated: expired or revoked is `NotAuthorized`)."""
        try:
            data, _ = await self.call(
                "GET", "/v3/auth/tokens?nocatalog", headers={"X-Subject-Token": self.token}
            )
        except NotFound as exc:  # Keystone's answer for a subject token it does not know
            raise NotAuthorized(str(exc)) from None
        return token_info_from_keystone(data["token"])

    async def logout(self) -> None:
        """Revoke the token."""
        await self.call("DELETE", "/v3/auth/tokens", headers={"X-Subject-Token": self.token})

    async def projects(self) -> list[dict[str, Any]]:
        """Every project (administrators)."""
        data, _ = await self.call("GET", "/v3/projects")
        return list(data["projects"])

    # -- servers ----------------------------------------------------------------------------

    async def servers(
        self, *, all_projects: bool = False, project_id: str = ""
    ) -> list[dict[str, Any]]:
        """The project's servers, newest first (every project's, or `project_id`'s, for an
        admin asking for all)."""
        query = "?all_tenants=1" if all_projects else ""
        if all_projects and project_id:
            query += f"&project_id={quote(project_id, safe='')}"
        data, _ = await self.call("GET", f"{COMPUTE}/servers/detail{query}")
        return [_server(s) for s in data["servers"]]

    async def server(self, server_id: str) -> dict[str, Any]:
        """One server."""
        data, _ = await self.call("GET", f"{COMPUTE}/servers/{server_id}")
        return _server(data["server"])

    async def create_server(self, fields: dict[str, Any]) -> str:
        """Create a server from the ``server`` fields of ``POST /servers``; its id."""
        data, _ = await self.call("POST", f"{COMPUTE}/servers", {"server": fields})
        return str(data["server"]["id"])

    async def server_action(self, server_id: str, body: dict[str, Any]) -> None:
        """``POST /servers/{id}/action`` with `body` (``{"os-stop": None}``, ...)."""
        await self.call("POST", f"{COMPUTE}/servers/{server_id}/action", body)

    async def delete_server(self, server_id: str) -> None:
        """``DELETE /servers/{id}``."""
        await self.call("DELETE", f"{COMPUTE}/servers/{server_id}")

    async def console_output(self, server_id: str, *, lines: int) -> str:
        """The last `lines` lines of the server's console."""
        body = {"os-getConsoleOutput": {"length": lines}}
        data, _ = await self.call("POST", f"{COMPUTE}/servers/{server_id}/action", body)
        return str(data["output"])

    async def instance_actions(self, server_id: str) -> list[dict[str, Any]]:
        """What was done to the server, newest first, each with its events."""
        path = f"{COMPUTE}/servers/{server_id}/os-instance-actions"
        data, _ = await self.call("GET", path)
        detailed = []
        for action in data["instanceActions"]:
            one, _ = await self.call("GET", f"{path}/{action['request_id']}")
            detailed.append(one["instanceAction"])
        return detailed

    # -- what a server is made of, and where it runs ------------------------------------------

    async def flavors(self) -> list[dict[str, Any]]:
        """The flavors the project may use."""
        data, _ = await self.call("GET", f"{COMPUTE}/flavors/detail")
        return list(data["flavors"])

    async def images(self) -> list[dict[str, Any]]:
        """The images the project can see, active ones only."""
        data, _ = await self.call("GET", "/image/v2/images?status=active")
        return list(data["images"])

    async def image_name(self, image_id: str) -> str:
        """The image's name (its id, if the user can no longer see it)."""
        try:
            data, _ = await self.call("GET", f"/image/v2/images/{quote(image_id, safe='')}")
        except NotFound:
            return image_id
        return str(data.get("name") or image_id)

    async def networks(self) -> list[dict[str, Any]]:
        """The networks the project can attach to."""
        data, _ = await self.call("GET", "/network/v2.0/networks")
        return list(data["networks"])

    async def keypairs(self) -> list[str] | None:
        """The user's key pair names, or None where the API serves no key pairs."""
        try:
            data, _ = await self.call("GET", f"{COMPUTE}/os-keypairs")
        except NotFound:
            return None
        return [str(k["keypair"]["name"]) for k in data["keypairs"]]

    async def hypervisors(self) -> list[dict[str, Any]]:
        """Every compute host with its capacity and usage (administrators)."""
        data, _ = await self.call("GET", f"{COMPUTE}/os-hypervisors/detail")
        return list(data["hypervisors"])


def _server(body: dict[str, Any]) -> dict[str, Any]:
    """The server in the CLI's shape, with the fault's message and the flavor's size."""
    server = server_from_http(body)
    fault = body.get("fault") or {}
    flavor = body.get("flavor") or {}
    server["fault"] = fault.get("message")
    server["vcpus"] = flavor.get("vcpus", 0)
    server["ram"] = flavor.get("ram", 0)
    return server
