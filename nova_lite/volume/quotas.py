"""Per-project volume quotas (Cinder's os-quota-sets): limits, defaults, usage and checks.

A project's limit for a resource is what an administrator set for it, else the
``default`` quota class's (os-quota-class-sets), else the default from ``[volume]``.
Volumes, snapshots and gigabytes (volumes' and snapshots' sizes together, as Cinder
counts them) are checked inside the write transaction that
adds to them, so two racing creates cannot both take the last unit; so are backups
and their gigabytes. Groups are not served: their limit is shown and can be set, and
nothing uses it; so are per-type limits (``volumes_<type>``, ``gigabytes_<type>``,
``snapshots_<type>``).
"""

from __future__ import annotations

import re
from typing import Any

import aiosqlite

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, QuotaExceeded
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.store import VolumeStore, write

__all__ = ["RESOURCES", "QuotaBook"]

#: Every resource a volume quota set names, as Cinder's API lists them.
RESOURCES = (
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "per_volume_gigabytes",
    "groups",
)
_PER_TYPE = re.compile(r"^(volumes|snapshots|gigabytes)_.+$")
_CLASS = "class:"  # the quotas table's project_id for a quota class's limits
RULES = {
    "show": "volume_extension:quotas:show",
    "update": "volume_extension:quotas:update",
    "delete": "volume_extension:quotas:delete",
    "class_show": "volume_extension:quota_classes",
    "class_update": "volume_extension:quota_classes:update",
}


class QuotaBook:
    """The quota endpoints, and the checks volumes and snapshots make before they grow."""

    def __init__(self, store: VolumeStore, policy: Enforcer, config: Config) -> None:
        self.store = store
        self.policy = policy
        volume = config.volume
        self._defaults = {
            "volumes": volume.quota_volumes,
            "snapshots": volume.quota_snapshots,
            "gigabytes": volume.quota_gigabytes,
            "backups": volume.quota_backups,
            "backup_gigabytes": volume.quota_backup_gigabytes,
            "per_volume_gigabytes": volume.per_volume_size_limit,
            "groups": volume.quota_groups,
        }

    async def defaults(self, conn: aiosqlite.Connection | None = None) -> dict[str, int]:
        """The default limit of every resource: the ``default`` class's, else the config's."""
        return {**self._defaults, **await self.store.quota_overrides(_CLASS + "default", conn)}

    async def limits(
        self, project_id: str, conn: aiosqlite.Connection | None = None
    ) -> dict[str, int]:
        """One project's limits: its own where set, the defaults elsewhere."""
        return {**await self.defaults(conn), **await self.store.quota_overrides(project_id, conn)}

    async def check(
        self,
        conn: aiosqlite.Connection,
        project_id: str | None,
        *,
        volumes: int = 0,
        snapshots: int = 0,
        gigabytes: int = 0,
        backups: int = 0,
        backup_gigabytes: int = 0,
        groups: int = 0,
        size: int | None = None,
    ) -> None:
        """`QuotaExceeded` if adding these to the project's usage passes a limit."""
        if project_id is None:
            return
        limits = await self.limits(project_id, conn)
        per_volume = limits["per_volume_gigabytes"]
        if size is not None and per_volume >= 0 and size > per_volume:
            raise QuotaExceeded(
                f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than "
                f"maximum allowed limit {per_volume}G.",
                resource="per_volume_gigabytes",
            )
        used = await self.store.usage(project_id, conn)
        wanted = {
            "volumes": volumes,
            "snapshots": snapshots,
            "gigabytes": gigabytes,
            "backups": backups,
            "backup_gigabytes": backup_gigabytes,
            "groups": groups,
        }
        for resource, more in wanted.items():
            limit = limits[resource]
            if more and limit >= 0 and used[resource] + more > limit:
                raise QuotaExceeded(
                    f"{_exceeded(resource)}: Maximum number of {resource} allowed ({limit}) "
                    f"exceeded for project {project_id}: {used[resource]} used, {more} "
                    f"requested ([volume] quota_{resource}).",
                    resource=resource,
                )

    @endpoint
    async def quota_show(
        self, ctx: RequestContext, project_id: str, usage: bool = False
    ) -> dict[str, Any]:
        """A project's limits (with ``usage``: each with its ``in_use`` and ``reserved``)."""
        self.policy.authorize(ctx, RULES["show"], {"project_id": project_id})
        limits = await self.limits(project_id)
        if not usage:
            return dict(limits)
        used = await self.store.usage(project_id)
        return {
            name: {"limit": limit, "in_use": used.get(name, 0), "reserved": 0}
            for name, limit in limits.items()
        }

    @endpoint
    async def quota_defaults(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The default limits (what a project has where nothing was set for it)."""
        self.policy.authorize(ctx, RULES["show"], {"project_id": project_id})
        return await self.defaults()

    @endpoint
    async def quota_update(
        self, ctx: RequestContext, project_id: str, limits: dict[str, Any]
    ) -> dict[str, int]:
        """Set some of a project's limits (admins); its limits afterwards."""
        self.policy.authorize(ctx, RULES["update"], {"project_id": project_id})
        await self._set(project_id, limits)
        return await self.limits(project_id)

    @endpoint
    async def quota_class_show(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        """A quota class's limits (admins): ``default`` is what projects get by default."""
        self.policy.authorize(ctx, RULES["class_show"], {"project_id": None})
        return {**self._defaults, **await self.store.quota_overrides(_CLASS + class_name)}

    @endpoint
    async def quota_class_update(
        self, ctx: RequestContext, class_name: str, limits: dict[str, Any]
    ) -> dict[str, int]:
        """Set some of a quota class's limits (admins); its limits afterwards."""
        self.policy.authorize(ctx, RULES["class_update"], {"project_id": None})
        await self._set(_CLASS + class_name, limits)
        return {**self._defaults, **await self.store.quota_overrides(_CLASS + class_name)}

    async def _set(self, owner: str, limits: dict[str, Any]) -> None:
        values = {name: _limit(name, value) for name, value in limits.items()}
        async with self.store.db.transaction() as conn:
            for name, value in values.items():
                await write(
                    conn,
                    "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?) "
                    "ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = ?",
                    (owner, name, value, value),
                )

    @endpoint
    async def quota_delete(self, ctx: RequestContext, project_id: str) -> None:
        """Forget a project's own limits: it has the defaults again (admins)."""
        self.policy.authorize(ctx, RULES["delete"], {"project_id": project_id})
        async with self.store.db.transaction() as conn:
            await write(conn, "DELETE FROM quotas WHERE project_id = ?", (project_id,))


def _limit(name: str, value: Any) -> int:
    if name not in RESOURCES and not _PER_TYPE.match(name):
        raise Invalid(f"Bad key(s) in quota set: {name!r}.")
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise Invalid(
            f"Quota limit {name} must be an integer of -1 (unlimited) or more, not {value!r}."
        )
    if value > 2**31 - 1:
        raise Invalid(f"Quota limit {name} must be at most {2**31 - 1}, not {value}.")
    return value


def _exceeded(resource: str) -> str:
    return {
        "volumes": "VolumeLimitExceeded",
        "snapshots": "SnapshotLimitExceeded",
        "gigabytes": "VolumeSizeExceedsAvailableQuota",
        "backups": "BackupLimitExceeded",
        "backup_gigabytes": "VolumeBackupSizeExceedsAvailableQuota",
        "groups": "GroupLimitExceeded",
    }[resource]
