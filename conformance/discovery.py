"""What the running cloud serves, read from its HTTP API before Tempest is configured.

Tempest's switches should say what nova_lite serves, and some of that is best read
from the cloud itself, so the configuration follows the code without edits here:
the compute and volume microversion ranges (their version documents), the
Neutron and Cinder extension aliases (their ``/extensions``), the images Tempest
boots (``cirros``, and a second one it rebuilds to, created here).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import attrs

__all__ = ["Discovered", "HttpClient", "discover"]

ALT_IMAGE = "cirros-alt"
PUBLIC_NETWORK = "public"
PUBLIC_CIDR = "172.24.4.0/24"  # devstack's floating range
ROUTER = "router1"


class HttpClient:
    """A tiny JSON client of one base URL, logged in as one user (urllib: no dependencies)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def login(self, username: str, password: str, project: str) -> dict[str, Any]:
        """Log in with the password method, project scope; the token body."""
        scope = {"project": {"name": project, "domain": {"name": "Default"}}}
        user = {"name": username, "domain": {"name": "Default"}, "password": password}
        auth = {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
        headers, body = self._send("POST", "/v3/auth/tokens", {"auth": auth})
        self.token = headers["X-Subject-Token"]
        token: dict[str, Any] = body["token"]
        return token

    def get(self, path: str) -> Any:
        """The JSON body of ``GET path``, or None if it answers 404.

        A 300 (Multiple Choices) is a version document, as Glance's and Cinder's roots
        answer: its body is the answer."""
        try:
            return self._send("GET", path)[1]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code == 300:
                return json.loads(exc.read())
            raise

    def post(self, path: str, body: Any) -> Any:
        """The JSON body of ``POST path``."""
        return self._send("POST", path, body)[1]

    def put(self, path: str, body: Any) -> Any:
        """The JSON body of ``PUT path``."""
        return self._send("PUT", path, body)[1]

    def put_bytes(self, path: str, data: bytes) -> None:
        """``PUT path`` with an octet stream."""
        headers = {"Content-Type": "application/octet-stream"}
        self._request("PUT", path, data, headers)

    def _send(self, method: str, path: str, body: Any = None) -> tuple[Any, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self._request(method, path, data, headers)

    def _request(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[Any, Any]:
        if self.token:
            headers = {**headers, "X-Auth-Token": self.token}
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.headers, (json.loads(raw) if raw else None)


@attrs.frozen
class Discovered:
    """What Tempest's configuration takes from the running cloud."""

    image_ref: str
    image_ref_alt: str
    compute_microversions: tuple[str, str]
    volume_microversions: tuple[str, str]
    network_extensions: tuple[str, ...]
    volume_extensions: tuple[str, ...]
    public_network_id: str = ""


def discover(base: str, username: str, password: str, project: str) -> Discovered:
    """Read `Discovered` from the cloud at `base`, as the admin (creating the second image)."""
    client = HttpClient(base)
    token = client.login(username, password, project)
    # The version with microversions (v2.1; Nova lists the deprecated v2.0 first).
    compute = next(v for v in client.get("/compute/")["versions"] if v["min_version"])
    volume = client.get("/volume/")["versions"][0]
    network_ext = client.get("/network/v2.0/extensions") or {"extensions": []}
    volume_ext = client.get(f"/volume/v3/{token['project']['id']}/extensions") or {}
    return Discovered(
        image_ref=_image(client, "cirros"),
        image_ref_alt=_image(client, ALT_IMAGE) or _create_alt_image(client),
        compute_microversions=(compute["min_version"], compute["version"]),
        volume_microversions=(volume["min_version"], volume["version"]),
        network_extensions=tuple(e["alias"] for e in network_ext["extensions"]),
        volume_extensions=tuple(e["alias"] for e in volume_ext.get("extensions", [])),
        public_network_id=_public_network(client) if "router" in str(network_ext) else "",
    )


def _image(client: HttpClient, name: str) -> str:
    images = client.get(f"/image/v2/images?name={name}")["images"]
    return str(images[0]["id"]) if images else ""


def _create_alt_image(client: HttpClient) -> str:
    """A second public image (Tempest rebuilds servers to ``image_ref_alt``)."""
    body = {
        "name": ALT_IMAGE,
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": "public",
    }
    image = client.post("/image/v2/images", body)
    client.put_bytes(f"/image/v2/images/{image['id']}/file", b"nova-lite alternate image" * 1024)
    return str(image["id"])


def _public_network(client: HttpClient) -> str:
    """The external network ``public`` (made, with its subnet and ``router1``, if missing)."""
    networks = client.get(f"/network/v2.0/networks?name={PUBLIC_NETWORK}")["networks"]
    if networks:
        return str(networks[0]["id"])
    network = client.post(
        "/network/v2.0/networks",
        {"network": {"name": PUBLIC_NETWORK, "router:external": True, "shared": False}},
    )["network"]
    client.post(
        "/network/v2.0/subnets",
        {"subnet": {"network_id": network["id"], "cidr": PUBLIC_CIDR, "enable_dhcp": False}},
    )
    gateway = {"network_id": network["id"]}
    router = client.post(
        "/network/v2.0/routers", {"router": {"name": ROUTER, "external_gateway_info": gateway}}
    )["router"]
    for private in client.get("/network/v2.0/networks?name=private")["networks"]:
        for subnet_id in private["subnets"][:1]:
            path = f"/network/v2.0/routers/{router['id']}/add_router_interface"
            client.put(path, {"subnet_id": subnet_id})
    return str(network["id"])
