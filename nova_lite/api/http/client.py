"""A small HTTP client of the compute API, for the ``nova-lite server`` commands.

With ``[client] api_url`` (or ``--api-url``/``NOVA_LITE_API_URL``) set, ``nova-lite
server list/show/create/delete`` log in with Keystone's password method and talk to
the compute endpoint of the catalog over HTTP, so their users need no broker
credentials. Servers come back in the same shape as over the bus (the api
service's `server_to_dict`), so the commands print them the same way.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Iterable
from typing import Any

import aiohttp

from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    Invalid,
    NotAuthorized,
    NotFound,
    NovaError,
    WaitTimeout,
)
from nova_lite.lifecycle import AsyncLifecycle
from nova_lite.objects import TokenInfo

__all__ = ["HttpApiClient", "server_from_http", "token_info_from_keystone"]

_ERRORS: dict[int, type[NovaError]] = {
    400: Invalid,
    401: NotAuthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}
POLL_INTERVAL = 0.5  # seconds between status checks while waiting (HTTP has no events)


def server_from_http(server: dict[str, Any]) -> dict[str, Any]:
    """A compute API server body in the bus API's shape (`server_to_dict`)."""
    flavor = server.get("flavor") or {}
    image = server.get("image") or {}
    addresses = [
        {"network": network, "addr": entry["addr"], "mac": entry.get("OS-EXT-IPS-MAC:mac_addr")}
        for network, entries in (server.get("addresses") or {}).items()
        for entry in entries
    ]
    return {
        "id": server["id"],
        "name": server.get("name"),
        "status": server.get("status"),
        "vm_state": server.get("OS-EXT-STS:vm_state"),
        "task_state": server.get("OS-EXT-STS:task_state"),
        "power_state": server.get("OS-EXT-STS:power_state"),
        "project_id": server.get("tenant_id"),
        "user_id": server.get("user_id"),
        "flavor": flavor.get("original_name") or flavor.get("id"),
        "image": image.get("id") if isinstance(image, dict) else None,
        "host": server.get("OS-EXT-SRV-ATTR:host"),
        "addresses": addresses,
        "created": server.get("created"),
        "launched_at": server.get("OS-SRV-USG:launched_at"),
        "locked": server.get("locked"),
        "fault": server.get("fault"),
    }


def token_info_from_keystone(token: dict[str, Any]) -> TokenInfo:
    """What a Keystone v3 token body (``{"token": ...}``'s value) says of its holder."""
    return TokenInfo(
        user_id=token["user"]["id"],
        user_name=token["user"]["name"],
        project_id=token["project"]["id"],
        project_name=token["project"]["name"],
        roles=tuple(role["name"] for role in token["roles"]),
        expires_at=datetime.datetime.fromisoformat(token["expires_at"]),
    )


class HttpApiClient(AsyncLifecycle):
    """The server operations of the compute API, over HTTP with one user's token."""

    def __init__(self, api_url: str, *, timeout: float = 60.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.token = ""
        self.token_info: TokenInfo | None = None  # who the token is for, once logged in
        self.compute_url = ""
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<HttpApiClient {self.api_url}>"

    async def start(self) -> None:
        """Open the HTTP session (``async with`` does this)."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def stop(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            await self._http.close()

    async def login(self, username: str, password: str, project: str) -> TokenInfo:
        """Get a token scoped to `project`, and the compute URL from its catalog.

        Returns what the token says of its holder (also kept as `token_info`).
        """
        domain = {"name": "Default"}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "password": password, "domain": domain}
                    },
                },
                "scope": {"project": {"name": project, "domain": domain}},
            }
        }
        data, headers = await self._request("POST", f"{self.api_url}/v3/auth/tokens", body)
        self.token = headers["X-Subject-Token"]
        self.token_info = token_info_from_keystone(data["token"])
        self.compute_url = _endpoint(data["token"]["catalog"], "compute")
        return self.token_info

    async def _request(self, method: str, url: str, body: Any = None) -> tuple[Any, dict[str, str]]:
        assert self._http is not None, "use HttpApiClient as an async context manager"
        headers = {"X-Auth-Token": self.token} if self.token else {}
        headers["OpenStack-API-Version"] = "compute 2.79"
        async with self._http.request(method, url, json=body, headers=headers) as response:
            json_body = response.content_type == "application/json"
            data = await response.json() if json_body else None
            if response.status >= 400:
                raise _error(response.status, data)
            return data, dict(response.headers)

    async def _compute(self, method: str, path: str, body: Any = None) -> Any:
        data, _ = await self._request(method, f"{self.compute_url}{path}", body)
        return data

    async def servers_create(
        self,
        *,
        name: str,
        flavor: str,
        image: str | None = None,
        networks: list[str] | None = None,
        count: int = 1,
        availability_zone: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create `count` servers; the first one as it is right after the request."""
        server: dict[str, Any] = {
            "name": name,
            "flavorRef": flavor,
            "imageRef": image or "",
            "networks": [{"uuid": n} for n in networks] if networks else "auto",
            "min_count": count,
            "max_count": count,
        }
        if availability_zone:
            server["availability_zone"] = availability_zone
        created = await self._compute("POST", "/servers", {"server": server})
        return [await self.servers_get(created["server"]["id"])]

    async def servers_list(self, *, all_projects: bool = False) -> list[dict[str, Any]]:
        """The project's servers (every project's for an admin asking for all)."""
        query = "?all_tenants=1" if all_projects else ""
        data = await self._compute("GET", f"/servers/detail{query}")
        return [server_from_http(s) for s in data["servers"]]

    async def servers_get(self, server_id: str) -> dict[str, Any]:
        """One server."""
        data = await self._compute("GET", f"/servers/{server_id}")
        return server_from_http(data["server"])

    async def servers_delete(self, server_id: str) -> None:
        """Delete a server."""
        await self._compute("DELETE", f"/servers/{server_id}")

    async def servers_wait(
        self, server_id: str, status: Iterable[str], *, seconds: float
    ) -> dict[str, Any]:
        """Poll until the server shows one of `status` (or ERROR; DELETED: it is gone)."""
        wanted = set(status)
        deadline = time.monotonic() + seconds
        while True:
            try:
                server = await self.servers_get(server_id)
            except NotFound:
                if "DELETED" in wanted:
                    return {"id": server_id, "status": "DELETED"}
                raise
            done = server["status"] in wanted | {"ERROR"} and not server["task_state"]
            if done:
                return server
            if time.monotonic() > deadline:
                raise WaitTimeout(f"Server {server_id} did not reach {sorted(wanted)} in time.")
            await asyncio.sleep(POLL_INTERVAL)


def _endpoint(catalog: list[dict[str, Any]], kind: str) -> str:
    for service in catalog:
        if service["type"] == kind:
            public = [e for e in service["endpoints"] if e["interface"] == "public"]
            return str(public[0]["url"])
    raise NotFound(f"The service catalog has no {kind} endpoint.")


def _error(status: int, data: Any) -> NovaError:
    message = f"HTTP {status}"
    if isinstance(data, dict) and data:
        fault = next(iter(data.values()))
        if isinstance(fault, dict) and "message" in fault:
            message = str(fault["message"])
    return _ERRORS.get(status, NovaError)(message)
