"""The volume manager: Cinder's volumes and attachments, served over RPC.

A volume moves through Cinder's statuses::

    creating -> available -> attaching -> in-use -> detaching -> available
                     ^           |                     |
                     +- unreserve                      +- roll_detaching -> in-use
    available | error -> deleting -> (gone)

Every change is a compare-and-swap in one write transaction
(``UPDATE ... WHERE status IN (...)``); when no row changes, the call raises
`VolumeInvalidState` naming the status it found, so of two racing attaches exactly
one wins. There is no real storage behind this service: sizes are recorded, and a
new volume is available at once.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    Invalid,
    QuotaExceeded,
    VolumeInvalidState,
    VolumeNotFound,
)
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager
from nova_lite.transport import Transport
from nova_lite.volume import validation
from nova_lite.volume.schema import MIGRATIONS

__all__ = ["STATUSES", "VolumeManager"]

log = structlog.get_logger(__name__)

STATUSES = ("creating", "available", "attaching", "in-use", "detaching", "error", "deleting")
_VISIBLE = "(? OR v.project_id = ?)"  # parameters: is the caller admin, its project
_SELECT = (
    "SELECT v.*, a.instance_uuid, a.mountpoint FROM volumes v "
    "LEFT JOIN attachments a ON a.volume_id = v.id AND a.detached_at IS NULL "
)

Step = Callable[[aiosqlite.Connection], Awaitable[None]]
_ACTIONS = "volume_extension:volume_actions:"
# The rule guarding each status transition (Cinder's names).
RULES = {
    "create": "volume:create",
    "delete": "volume:delete",
    "reserve": _ACTIONS + "reserve",
    "unreserve": _ACTIONS + "unreserve",
    "attach": _ACTIONS + "attach",
    "begin_detaching": _ACTIONS + "begin_detaching",
    "roll_detaching": _ACTIONS + "roll_detaching",
    "detach": _ACTIONS + "detach",
    "reset_status": "volume_extension:volume_admin_actions:reset_status",
}


class VolumeManager(Manager):
    """Serves the ``volume`` topic: create, attach, detach and delete volumes."""

    topic: ClassVar[str] = "volume"
    target: ClassVar[Target] = Target(version="1.0")

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("volume"), MIGRATIONS, name="volume")
        self.policy = Enforcer.from_file(config.policy.file)
        self.images = ImageAPI(transport, config)
        self.max_volumes = config.volume.quota_volumes

    async def init_host(self) -> None:
        await self.db.open()

    async def cleanup_host(self) -> None:
        await self.db.close()

    @endpoint
    async def create(
        self, ctx: RequestContext, size: int, name: str | None = "", image_id: str | None = None
    ) -> objects.Volume:
        """Create a volume of `size` GiB for the caller's project (bootable if from an image).

        The image must be one the caller can see (Cinder asks Glance): another project's
        private image, or none at all, is `ImageNotFound`.
        """
        size = validation.size(size)
        name = check.volume_name(name)
        image_id = check.optional_text("image_id", image_id)
        own = {"project_id": ctx.project_id}
        self.policy.authorize(ctx, "volume:create", own)
        if image_id is not None:
            self.policy.authorize(ctx, "volume:create_from_image", own)
            image_id = (await self.images.get(ctx, image_id)).id
        volume_id = str(uuid.uuid4())
        async with self.db.transaction() as conn:
            await self._check_quota(conn, ctx)
            await _write(
                conn,
                "INSERT INTO volumes (id, name, size, status, project_id, user_id, image_id, "
                "bootable, created_at) VALUES (?, ?, ?, 'creating', ?, ?, ?, ?, ?)",
                (
                    volume_id,
                    name,
                    size,
                    ctx.project_id,
                    ctx.user_id,
                    image_id,
                    bool(image_id),
                    _now(),
                ),
            )
        log.info("volume.created", volume_id=volume_id, size=size, image_id=image_id)
        # No storage to provision: the backend is "done" at once.
        return await self._transition(ctx, volume_id, ("creating",), "available", "create")

    @endpoint
    async def get(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """One volume of the caller's project (any, for admins); VolumeNotFound otherwise."""
        volume = await self._load(ctx, check.text("volume_id", volume_id))
        self.policy.authorize(ctx, "volume:get", {"project_id": volume.project_id})
        return volume

    @endpoint
    async def list(self, ctx: RequestContext) -> builtins.list[objects.Volume]:
        """The caller's project's volumes (all, for admins), oldest first."""
        self.policy.authorize(ctx, "volume:get_all", {"project_id": ctx.project_id})
        found = await self.db.fetchall(f"{_SELECT} WHERE {_VISIBLE} ORDER BY v.rowid", _caller(ctx))
        return [_volume(row) for row in found]

    @endpoint
    async def reserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Claim an available volume for an attach: available -> attaching."""
        return await self._transition(ctx, volume_id, ("available",), "attaching", "reserve")

    @endpoint
    async def unreserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Give up a reservation (the attach failed): attaching -> available."""
        return await self._transition(ctx, volume_id, ("attaching",), "available", "unreserve")

    @endpoint
    async def attach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str, mountpoint: str
    ) -> objects.Volume:
        """Record the attachment to an instance: attaching -> in-use."""
        instance_uuid = check.text("instance_uuid", instance_uuid)
        mountpoint = check.text("mountpoint", mountpoint)

        async def record(conn: aiosqlite.Connection) -> None:
            await _write(
                conn,
                "INSERT INTO attachments (id, volume_id, instance_uuid, mountpoint, "
                "attached_at) VALUES (?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), volume_id, instance_uuid, mountpoint, _now()),
            )

        volume = await self._transition(ctx, volume_id, ("attaching",), "in-use", "attach", record)
        log.info("volume.attached", volume_id=volume.id, instance_uuid=instance_uuid)
        return volume

    @endpoint
    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Mark a detach as started: in-use -> detaching."""
        return await self._transition(ctx, volume_id, ("in-use",), "detaching", "begin_detaching")

    @endpoint
    async def roll_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Undo `begin_detaching` after a failed detach: detaching -> in-use."""
        return await self._transition(ctx, volume_id, ("detaching",), "in-use", "roll_detaching")

    @endpoint
    async def detach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> objects.Volume:
        """End the attachment to `instance_uuid`: in-use or detaching -> available."""
        instance_uuid = check.text("instance_uuid", instance_uuid)

        async def close(conn: aiosqlite.Connection) -> None:
            closed = await _write(
                conn,
                "UPDATE attachments SET detached_at = ? "
                "WHERE volume_id = ? AND instance_uuid = ? AND detached_at IS NULL",
                (_now(), volume_id, instance_uuid),
            )
            if not closed:
                raise VolumeInvalidState(
                    f"Volume {volume_id} is not attached to instance {instance_uuid}.",
                    volume_id=volume_id,
                )

        volume = await self._transition(
            ctx, volume_id, ("in-use", "detaching"), "available", "detach", close
        )
        log.info("volume.detached", volume_id=volume.id, instance_uuid=instance_uuid)
        return volume

    @endpoint
    async def delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete an available or errored volume (deleting, then gone)."""
        await self._transition(ctx, volume_id, ("available", "error"), "deleting", "delete")
        async with self.db.transaction() as conn:
            await _write(conn, "DELETE FROM volumes WHERE id = ?", (volume_id,))
        log.info("volume.deleted", volume_id=volume_id)

    @endpoint
    async def reset_status(
        self, ctx: RequestContext, volume_id: str, status: str
    ) -> objects.Volume:
        """Force a volume's status (admin only, like ``cinder reset-state``).

        Attachments are left as they are.
        """
        self.policy.authorize(ctx, RULES["reset_status"], {"project_id": None})
        if status not in STATUSES or status == "deleting":
            allowed = ", ".join(s for s in STATUSES if s != "deleting")
            raise Invalid(f"status must be one of {allowed}; not {status!r}.")
        return await self._transition(ctx, volume_id, STATUSES, status, "reset_status")

    async def _transition(
        self,
        ctx: RequestContext,
        volume_id: object,
        expected: tuple[str, ...],
        new: str,
        action: str,
        then: Step | None = None,
    ) -> objects.Volume:
        """Compare-and-swap the status (and run `then`) in one transaction."""
        volume_id = check.text("volume_id", volume_id)
        if action != "create":  # the volume's creator was authorized as it was made
            found = await self._load(ctx, volume_id)
            self.policy.authorize(ctx, RULES[action], {"project_id": found.project_id})
        marks = ", ".join("?" for _ in expected)
        async with self.db.transaction() as conn:
            swapped = await _write(
                conn,
                "UPDATE volumes SET status = ?, updated_at = ? "
                f"WHERE id = ? AND status IN ({marks}) AND (? OR project_id = ?)",
                (new, _now(), volume_id, *expected, *_caller(ctx)),
            )
            if not swapped:
                current = await self._load(ctx, volume_id)
                raise VolumeInvalidState(
                    f"Volume {volume_id} is {current.status!r}; {action} needs status "
                    f"{' or '.join(map(repr, expected))}.",
                    volume_id=volume_id,
                    status=current.status,
                )
            if then is not None:
                await then(conn)
            return await self._load(ctx, volume_id)

    async def _check_quota(self, conn: aiosqlite.Connection, ctx: RequestContext) -> None:
        """`QuotaExceeded` if the caller's project has ``[quota] volumes`` volumes already."""
        if self.max_volumes < 0:
            return
        async with conn.execute(
            "SELECT count(*) FROM volumes WHERE project_id = ?", (ctx.project_id,)
        ) as cursor:
            row = await cursor.fetchone()
        used = row[0] if row else 0
        if used >= self.max_volumes:
            raise QuotaExceeded(
                f"VolumeLimitExceeded: Maximum number of volumes allowed "
                f"({self.max_volumes}) exceeded for project {ctx.project_id} "
                "([volume] quota_volumes).",
                resource="volumes",
            )

    async def _load(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        row = await self.db.fetchone(
            f"{_SELECT} WHERE v.id = ? AND {_VISIBLE}", (volume_id, *_caller(ctx))
        )
        if row is None:
            raise VolumeNotFound(f"Volume {volume_id} could not be found.", volume_id=volume_id)
        return _volume(row)


def _caller(ctx: RequestContext) -> tuple[bool, str | None]:
    return ctx.is_admin, ctx.project_id


async def _write(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
    async with conn.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount


def _now() -> str:
    return objects.utcnow().isoformat()


def _volume(row: sqlite3.Row) -> objects.Volume:
    return objects.Volume(
        id=row["id"],
        name=row["name"],
        size=row["size"],
        status=row["status"],
        project_id=row["project_id"],
        image_id=row["image_id"],
        bootable=bool(row["bootable"]),
        attached_to=row["instance_uuid"],
        mountpoint=row["mountpoint"],
    )
