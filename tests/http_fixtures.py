"""Helpers for the HTTP API tests: a cloud with its HTTP front end, and a raw client.

`FrontEnd.start` serves a started `Cloud` on 127.0.0.1 (a free port) and opens an
aiohttp client to it; `FrontEnd.call` sends one request and returns status, headers
and parsed body. Waiting for servers uses the library (`Session.servers.wait_for`,
driven by notifications), never sleeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDictProxy

from nova_lite.api.http import HttpServer
from nova_lite.api.views import Server
from nova_lite.cloud import Cloud
from nova_lite.testing import PASSWORD, WAIT, NotificationTap

__all__ = ["FrontEnd", "Reply", "auth_body"]


def auth_body(user: str, password: str, project: str) -> dict[str, Any]:
    """A Keystone v3 password-method request scoped to `project` by name."""
    domain = {"name": "Default"}
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": domain}},
            },
            "scope": {"project": {"name": project, "domain": domain}},
        }
    }


@attrs.frozen
class Reply:
    """One HTTP response: status, headers and the JSON body (None if empty or not JSON)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: Any
    raw: bytes


@attrs.define
class FrontEnd:
    """A cloud served over HTTP, and a client session to it."""

    cloud: Cloud
    server: HttpServer
    http: aiohttp.ClientSession

    @classmethod
    async def start(cls, cloud: Cloud) -> FrontEnd:
        """Serve `cloud` on a free local port."""
        server = HttpServer(cloud.api, listen="127.0.0.1:0")
        await server.start()
        return cls(cloud, server, aiohttp.ClientSession())

    async def aclose(self) -> None:
        """Close the client, then stop serving."""
        await self.http.close()
        await self.server.stop()

    @property
    def url(self) -> str:
        """The front end's base URL."""
        return self.server.url

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request to `path` (under the base URL) and read the whole response."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["X-Auth-Token"] = token
        async with self.http.request(
            method, self.url + path, json=json, data=data, headers=all_headers
        ) as response:
            raw = await response.read()
            body = None
            if raw and response.content_type == "application/json":
                body = await response.json()
            return Reply(response.status, response.headers, body, raw)

    async def token(self, user: str = "admin", project: str = "admin") -> str:
        """A token for `user` (password `PASSWORD`) on `project`."""
        reply = await self.call("POST", "/v3/auth/tokens", json=auth_body(user, PASSWORD, project))
        assert reply.status == 201, reply.body
        return reply.headers["X-Subject-Token"]

    async def boot(self, token: str, name: str = "web", **extra: Any) -> str:
        """Create a server through HTTP and wait (through the library) until it is ACTIVE."""
        body = {
            "server": {"name": name, "imageRef": await self.image_id(), "flavorRef": "1", **extra}
        }
        reply = await self.call("POST", "/compute/v2.1/servers", token=token, json=body)
        assert reply.status == 202, reply.body
        server_id: str = reply.body["server"]["id"]
        await self.wait(token, server_id, "ACTIVE")
        return server_id

    async def wait(self, token: str, server_id: str, status: str) -> Server:
        """Wait until the server shows `status`, through the library's notifications."""
        server = await self.cloud.api.session(token).servers.wait_for(
            server_id, status, timeout=WAIT
        )
        assert server.status == status, (server.status, server.fault)
        return server

    async def image_id(self, name: str = "cirros") -> str:
        """The id of the seeded image."""
        session = await self.cloud.login_admin()
        images = await self.cloud.api.image.list(await session.context())
        return next(i.id for i in images if i.name == name)


async def boot_one_then_stop(cloud: Cloud) -> str:
    """Boot one server through HTTP to ``instance.create.end``, then stop the cloud.

    Stopping shuts the cloud's tracing down, so every span of the boot is exported by
    the time this returns; the server's id is returned for the trace's assertions.
    """
    front = await FrontEnd.start(cloud)
    try:
        tap = await NotificationTap.attach(cloud)
        token = await front.token()
        server_id = await front.boot(token)
        await tap.wait_event(server_id, "instance.create.end")
    finally:
        await front.aclose()
    await cloud.stop()
    return server_id
