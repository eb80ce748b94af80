"""The service catalog's records: services, endpoints, regions and endpoint groups.

Tokens carry the catalog these records make (`Catalog.catalog_entries`): every
enabled service with its enabled endpoints. The bootstrap seeds one region,
``RegionOne``, and the five APIs the HTTP front end serves, each with a public,
internal and admin endpoint whose URL starts ``$(public_url)s``: the front end puts
its own base URL there (``[api] public_url``, else the one the caller used), as it
puts the token's project in ``$(project_id)s``. Administrators add services and
endpoints as in Keystone; an endpoint naming a region that does not exist creates
it (Keystone's legacy ``region`` attribute), and deleting a service deletes its
endpoints.
"""

from __future__ import annotations

import uuid
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict, Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.records import JsonRecords
from nova_lite.identity.store import IdentityStore
from nova_lite.rpc.endpoint import endpoint

__all__ = [
    "INTERFACES",
    "PUBLIC_URL",
    "REGION",
    "SEED",
    "Catalog",
    "EndpointGroups",
    "Endpoints",
    "Regions",
    "Services",
    "seed_catalog",
]

REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")
PUBLIC_URL = "$(public_url)s"
_NAMESPACE = uuid.UUID("6a1e5b8e-3b57-4a7c-9f3e-6e0d1c2b4a59")

# (type, name, path under the public URL), as the HTTP front end serves them.
SEED: tuple[tuple[str, str, str], ...] = (
    ("identity", "keystone", "/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("volumev3", "cinderv3", "/volume/v3/$(project_id)s"),
)


def stable_id(kind: str, name: str) -> str:
    """The id of a seeded record: the same in every cloud, as the old catalog's were."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}").hex


def _enabled(body: dict[str, Any]) -> bool:
    return checks.boolean("enabled", body.get("enabled", True))


class Services(JsonRecords):
    """``/v3/services``: a service type, name, description and enabled flag."""

    kind = "service"
    rule = "service"
    filters = ("type", "name")

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **body}
        merged["type"] = checks.name("type", merged.get("type"), kind="service")
        if merged.get("name") is not None:
            merged["name"] = checks.check_text("name", merged["name"])
        merged["enabled"] = _enabled(merged)
        if "description" in merged:
            merged["description"] = checks.optional_text("description", merged["description"])
        return merged

    async def deleting(self, record: dict[str, Any]) -> None:
        await self.store.db.conn.execute(
            "DELETE FROM records WHERE kind = 'endpoint'"
            " AND json_extract(body, '$.service_id') = ?",
            (record["id"],),
        )


class Regions(JsonRecords):
    """``/v3/regions``: ids chosen by the caller or made, descriptions, parent regions."""

    kind = "region"
    rule = "region"
    filters = ("parent_region_id",)

    def new_id(self, body: dict[str, Any]) -> str:
        if body.get("id") is not None:
            return checks.identifier("id", body["id"])
        return uuid.uuid4().hex

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **{k: v for k, v in body.items() if k != "id"}}
        merged["description"] = checks.optional_text("description", merged.get("description"))
        parent = merged.get("parent_region_id")
        if parent is not None:
            await self.load(checks.identifier("parent_region_id", parent))
            if current is not None and parent in await self._descendants(current["id"]):
                raise Invalid("A region cannot be its own ancestor.")
        merged["parent_region_id"] = parent
        return merged

    async def _descendants(self, region_id: str) -> set[str]:
        regions = await self.all()
        found, frontier = {region_id}, {region_id}
        while frontier:
            frontier = {r["id"] for r in regions if r.get("parent_region_id") in frontier} - found
            found |= frontier
        return found

    async def deleting(self, record: dict[str, Any]) -> None:
        doomed = await self._descendants(record["id"])
        for region_id in doomed:
            used = await self.store.db.fetchone(
                "SELECT id FROM records WHERE kind = 'endpoint'"
                " AND json_extract(body, '$.region_id') = ?",
                (region_id,),
            )
            if used is not None:
                raise Conflict(f"Region {region_id} still has endpoints; delete them first.")
        for region_id in doomed - {record["id"]}:
            await self.store.db.conn.execute(
                "DELETE FROM records WHERE kind = 'region' AND id = ?", (region_id,)
            )


class Endpoints(JsonRecords):
    """``/v3/endpoints``: a service's URL at one interface in one region."""

    kind = "endpoint"
    rule = "endpoint"
    filters = ("service_id", "interface", "region_id")

    def __init__(self, store: IdentityStore, access: IdentityAccess, regions: Regions) -> None:
        super().__init__(store, access)
        self.regions = regions

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **body}
        service = checks.identifier("service_id", merged.get("service_id"))
        if (
            await self.store.db.fetchone(
                "SELECT 1 FROM records WHERE kind = 'service' AND id = ?", (service,)
            )
            is None
        ):
            raise Invalid(f"Could not find service: {service}.")
        interface = merged.get("interface")
        if interface not in INTERFACES:
            raise Invalid(f"Invalid interface {interface!r:.40}; use {', '.join(INTERFACES)}.")
        url = checks.check_text("url", merged.get("url"), max_length=1024)
        if "://" not in url and not url.startswith(PUBLIC_URL):
            raise Invalid(f"Invalid url {url!r:.80}: an absolute URL is needed.")
        region = body.get("region_id", body.get("region", merged.get("region_id")))
        if region is not None:
            region = await self._region(checks.identifier("region_id", region))
        merged.pop("region", None)
        return {**merged, "service_id": service, "interface": interface, "url": url,
                "region_id": region, "enabled": _enabled(merged)}  # fmt: skip

    async def _region(self, region_id: str) -> str:
        """`region_id`, created if it does not exist (Keystone's legacy ``region``)."""
        try:
            await self.regions.load(region_id)
        except NotFound:
            await self.regions.save(
                region_id, {"description": "", "parent_region_id": None}, new=True
            )
        return region_id

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "region": record.get("region_id")}


class EndpointGroups(JsonRecords):
    """``/v3/OS-EP-FILTER/endpoint_groups``: named filters over endpoints (recorded)."""

    kind = "endpoint_group"
    rule = "endpoint_group"
    filters = ("name",)
    label = "endpoint group"

    async def check(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(current or {}), **body}
        merged["name"] = checks.name("name", merged.get("name"), kind="endpoint_group")
        merged["description"] = checks.optional_text("description", merged.get("description"))
        filters = merged.get("filters")
        if not isinstance(filters, dict) or not filters:
            raise Invalid("An endpoint group's filters are a non-empty object.")
        checks.only_fields(filters, ("service_id", "region_id", "interface"), "filters")
        return merged


class Catalog:
    """The catalog endpoint: what a token's ``catalog`` lists."""

    def __init__(self, services: Services, endpoints: Endpoints, access: IdentityAccess) -> None:
        self.services = services
        self.endpoints = endpoints
        self.access = access

    def __repr__(self) -> str:
        return f"<Catalog {self.services.store!r}>"

    @endpoint
    async def catalog_entries(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every enabled service with its enabled endpoints (URLs still templates)."""
        await self.access.authorize(ctx, "identity:get_auth_catalog")
        endpoints = [e for e in await self.endpoints.all() if e.get("enabled", True)]
        entries = []
        for service in await self.services.all():
            if not service.get("enabled", True):
                continue
            mine = [
                {
                    "id": e["id"],
                    "interface": e["interface"],
                    "region": e.get("region_id"),
                    "region_id": e.get("region_id"),
                    "url": e["url"],
                }
                for e in endpoints
                if e["service_id"] == service["id"]
            ]
            entry = {"id": service["id"], "type": service["type"], "endpoints": mine}
            entries.append({**entry, "name": service.get("name") or ""})
        return entries


async def seed_catalog(services: Services, endpoints: Endpoints, regions: Regions) -> None:
    """Seed ``RegionOne`` and the served APIs, once (an administrator may delete them)."""
    store = services.store
    marker = await store.db.fetchone(
        "SELECT 1 FROM records WHERE kind = '_meta' AND id = 'catalog'"
    )
    if marker is not None:
        return
    async with store.db.transaction():
        await regions.save(REGION, {"description": "", "parent_region_id": None}, new=True)
        for kind, name, path in SEED:
            service_id = stable_id("service", kind)
            await services.save(service_id, {"type": kind, "name": name, "enabled": True}, new=True)
            for interface in INTERFACES:
                body = {
                    "service_id": service_id,
                    "interface": interface,
                    "region_id": REGION,
                    "url": PUBLIC_URL + path,
                    "enabled": True,
                }
                await endpoints.save(stable_id("endpoint", f"{kind}:{interface}"), body, new=True)
        await store.db.conn.execute(
            "INSERT INTO records (kind, id, body, created_at) VALUES ('_meta', 'catalog', '{}', ?)",
            (store.timestamp(),),
        )
