"""A volume's attachment to an instance, as Cinder's status machine records it::

    available -> attaching -> in-use -> detaching -> available
        ^           |                     |
        +- unreserve                      +- roll_detaching -> in-use

Compute drives these (reserve, attach; begin_detaching, detach) around its own
hypervisor step; Cinder's volume actions (``os-reserve``, ``os-attach``, ...) reach
the same endpoints. Every step is a compare-and-swap on the status in one write
transaction with its attachment row, so of two racing attaches exactly one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import aiosqlite
import structlog

from nova_lite import objects
from nova_lite import validators as check
from nova_lite.context import RequestContext
from nova_lite.exceptions import VolumeInvalidState
from nova_lite.policy import Enforcer
from nova_lite.rpc.endpoint import endpoint
from nova_lite.volume.store import VolumeStore, now, write

__all__ = ["AttachmentStates"]

Step = Callable[[aiosqlite.Connection], Awaitable[None]]

log = structlog.get_logger(__name__)

_ACTIONS = "volume_extension:volume_actions:"
RULES = {
    "reserve": _ACTIONS + "reserve",
    "unreserve": _ACTIONS + "unreserve",
    "attach": _ACTIONS + "attach",
    "begin_detaching": _ACTIONS + "begin_detaching",
    "roll_detaching": _ACTIONS + "roll_detaching",
    "detach": _ACTIONS + "detach",
    "force_detach": "volume_extension:volume_admin_actions:force_detach",
}


class AttachmentStates:
    """The attach and detach endpoints (see the module docstring)."""

    def __init__(self, store: VolumeStore, policy: Enforcer) -> None:
        self.store = store
        self.policy = policy

    @endpoint
    async def reserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Claim an available volume for an attach: available -> attaching."""
        return await self._step(ctx, volume_id, ("available",), "attaching", "reserve")

    @endpoint
    async def unreserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Give up a reservation (the attach failed): attaching -> available."""
        return await self._step(ctx, volume_id, ("attaching",), "available", "unreserve")

    @endpoint
    async def attach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str, mountpoint: str
    ) -> objects.Volume:
        """Record the attachment to an instance: attaching -> in-use."""
        instance_uuid = check.text("instance_uuid", instance_uuid)
        mountpoint = check.text("mountpoint", mountpoint)
        volume_id = check.text("volume_id", volume_id)

        async def record(conn: aiosqlite.Connection) -> None:
            await write(
                conn,
                "INSERT INTO attachments (id, volume_id, instance_uuid, mountpoint, "
                "attached_at, host) VALUES (?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), volume_id, instance_uuid, mountpoint, now(), None),
            )

        volume = await self._step(ctx, volume_id, ("attaching",), "in-use", "attach", record)
        log.info("volume.attached", volume_id=volume.id, instance_uuid=instance_uuid)
        return volume

    @endpoint
    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Mark a detach as started: in-use -> detaching."""
        return await self._step(ctx, volume_id, ("in-use",), "detaching", "begin_detaching")

    @endpoint
    async def roll_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """Undo `begin_detaching` after a failed detach: detaching -> in-use."""
        return await self._step(ctx, volume_id, ("detaching",), "in-use", "roll_detaching")

    @endpoint
    async def detach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> objects.Volume:
        """End the attachment to `instance_uuid`: in-use or detaching -> available."""
        instance_uuid = check.text("instance_uuid", instance_uuid)
        volume_id = check.text("volume_id", volume_id)

        async def close(conn: aiosqlite.Connection) -> None:
            closed = await write(
                conn,
                "UPDATE attachments SET detached_at = ? "
                "WHERE volume_id = ? AND instance_uuid = ? AND detached_at IS NULL",
                (now(), volume_id, instance_uuid),
            )
            if not closed:
                raise VolumeInvalidState(
                    f"Volume {volume_id} is not attached to instance {instance_uuid}.",
                    volume_id=volume_id,
                )

        volume = await self._step(
            ctx, volume_id, ("in-use", "detaching"), "available", "detach", close
        )
        log.info("volume.detached", volume_id=volume.id, instance_uuid=instance_uuid)
        return volume

    @endpoint
    async def force_detach(
        self, ctx: RequestContext, volume_id: str, attachment_id: str | None = None
    ) -> objects.Volume:
        """End a volume's attachment whatever its status (admins, ``os-force_detach``)."""
        volume_id = check.text("volume_id", volume_id)
        current = await self.store.volume(ctx, volume_id)
        self.policy.authorize(ctx, RULES["force_detach"], {"project_id": current.project_id})

        async def close(conn: aiosqlite.Connection) -> None:
            await write(
                conn,
                "UPDATE attachments SET detached_at = ? WHERE volume_id = ? "
                "AND detached_at IS NULL AND (? IS NULL OR id = ?)",
                (now(), volume_id, attachment_id, attachment_id),
            )

        async with self.store.db.transaction() as conn:
            await self.store.swap_status(
                conn, ctx, volume_id, (current.status,), "available", "force_detach"
            )
            await close(conn)
            volume = await self.store.volume_in(conn, ctx, volume_id)
        log.info("volume.force_detached", volume_id=volume_id)
        return volume

    async def _step(
        self,
        ctx: RequestContext,
        volume_id: object,
        expected: tuple[str, ...],
        new: str,
        action: str,
        then: Step | None = None,
    ) -> objects.Volume:
        """Authorize `action`, compare-and-swap the status, run `then`, in one transaction."""
        volume_id = check.text("volume_id", volume_id)
        found = await self.store.volume(ctx, volume_id)
        self.policy.authorize(ctx, RULES[action], {"project_id": found.project_id})
        async with self.store.db.transaction() as conn:
            await self.store.swap_status(conn, ctx, volume_id, expected, new, action)
            if then is not None:
                await then(conn)
            return await self.store.volume_in(conn, ctx, volume_id)
