"""The service catalog a token comes with: every API at this front end's base URL.

One region, ``RegionOne``; each service has the same URL for its public, internal
and admin interfaces::

    identity   keystone   {base}/v3
    compute    nova       {base}/compute/v2.1
    image      glance     {base}/image
    network    neutron    {base}/network
    volumev3   cinderv3   {base}/volume/v3/{project_id}
"""

from __future__ import annotations

from typing import Any

from nova_lite.api.http.views import stable_id

__all__ = ["REGION", "SERVICES", "catalog"]

REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")

# (type, name, path under the base URL; {project_id} is the token's project)
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("identity", "keystone", "/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
)


def catalog(base: str, project_id: str) -> list[dict[str, Any]]:
    """The catalog for a token scoped to `project_id`, at `base`."""
    entries = []
    for kind, name, path in SERVICES:
        url = base + path.format(project_id=project_id)
        endpoints = [
            {
                "id": stable_id("endpoint", f"{kind}:{interface}"),
                "interface": interface,
                "region": REGION,
                "region_id": REGION,
                "url": url,
            }
            for interface in INTERFACES
        ]
        entries.append(
            {"id": stable_id("service", kind), "type": kind, "name": name, "endpoints": endpoints}
        )
    return entries
