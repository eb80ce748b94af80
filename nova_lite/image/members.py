"""The image service's endpoints for image members: sharing an image with projects.

Only ``shared`` images have members (403 otherwise). The owner project (or an
administrator) adds and removes members; each member project decides for itself
whether it ``accepted``, ``rejected`` or leaves ``pending`` the image shared with
it, and nobody else may (Glance's ``modify_member`` rule reads the member being
changed). A member sees the image whatever its status, but lists it only once it
accepted (or when it asks for that status); it sees only its own membership. At most
128 members per image (413), as Glance's ``image_member_quota``.
"""

from __future__ import annotations

import builtins
from typing import ClassVar

import attrs
import structlog

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import Conflict, Forbidden, ImageLimitExceeded, Invalid, NotFound
from nova_lite.image import checks
from nova_lite.image.access import ImageAccess, is_admin
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import MEMBER_COLUMNS, isotext, member_from_row
from nova_lite.objects import Image, ImageMember, utcnow
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["ImageMembers"]

log = structlog.get_logger(__name__)


def _shared_only(image: Image) -> None:
    if image.visibility != "shared":
        raise Forbidden("Only shared images have members.")


def _sees_all(ctx: RequestContext, image: Image) -> bool:
    return is_admin(ctx) or (image.owner is not None and image.owner == ctx.project_id)


class ImageMembers:
    """The endpoints that share images with other projects."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(self, db: Database, access: ImageAccess) -> None:
        self.db = db
        self.access = access

    def __repr__(self) -> str:
        return f"<ImageMembers {self.db!r}>"

    @endpoint
    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """Share the image with project `member_id` (``pending`` until it accepts)."""
        if not isinstance(member_id, str) or not 1 <= len(member_id) <= 255:
            raise Invalid(f"Member {member_id!r:.80} must be a project id of 1-255 characters.")
        async with self.db.transaction() as conn:
            image, membership = await self.access.visible(ctx, image_id)
            _shared_only(image)
            self.access.authorize(ctx, image, membership, "add_member")
            rows = await self._rows(image.id)
            if any(row.member_id == member_id for row in rows):
                raise Conflict(f"Member {member_id} is duplicated for image {image.id}")
            if len(rows) >= checks.MAX_MEMBERS:
                raise ImageLimitExceeded(
                    f"Image member limit exceeded for image {image.id}: "
                    f"{checks.MAX_MEMBERS} members at most."
                )
            member = ImageMember(image_id=image.id, member_id=member_id)
            await conn.execute(
                f"INSERT INTO image_members ({MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (
                    member.image_id,
                    member.member_id,
                    member.status,
                    isotext(member.created_at),
                    isotext(member.updated_at),
                ),
            )
        log.info("image.member_added", image_id=image.id, member_id=member_id)
        return member

    @endpoint
    async def list_members(self, ctx: RequestContext, image_id: str) -> builtins.list[ImageMember]:
        """The image's members: all of them for its owner, the caller's own for a member."""
        image, membership = await self.access.visible(ctx, image_id)
        _shared_only(image)
        self.access.authorize(ctx, image, membership, "get_members")
        rows = await self._rows(image.id)
        if _sees_all(ctx, image):
            return rows
        return [row for row in rows if row.member_id == ctx.project_id]

    @endpoint
    async def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """One membership; `NotFound` unless the caller owns the image or is that member."""
        image, membership = await self.access.visible(ctx, image_id)
        try:
            _shared_only(image)
            self.access.authorize(ctx, image, membership, "get_member")
        except Forbidden as exc:  # as Glance: no leak of what exists
            raise NotFound(str(exc)) from None
        if not _sees_all(ctx, image) and member_id != ctx.project_id:
            raise NotFound(f"{member_id} not found in the member list of the image {image.id}.")
        return await self._member(image, member_id)

    @endpoint
    async def update_member(
        self, ctx: RequestContext, image_id: str, member_id: str, status: str
    ) -> ImageMember:
        """Set the membership's status: only the member project itself (or an admin)."""
        async with self.db.transaction() as conn:
            image, membership = await self.access.visible(ctx, image_id)
            _shared_only(image)
            member = await self._member(image, member_id)
            self.access.authorize(ctx, image, membership, "modify_member", member_id=member_id)
            status = checks.check_choice("status", status, checks.MEMBER_STATUSES)
            updated = attrs.evolve(member, status=status, updated_at=utcnow())
            await conn.execute(
                "UPDATE image_members SET status = ?, updated_at = ?"
                " WHERE image_id = ? AND member_id = ?",
                (status, isotext(updated.updated_at), image.id, member_id),
            )
        log.info("image.member_updated", image_id=image.id, member_id=member_id, status=status)
        return updated

    @endpoint
    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing the image with `member_id` (the owner project or an admin)."""
        async with self.db.transaction() as conn:
            image, membership = await self.access.visible(ctx, image_id)
            _shared_only(image)
            await self._member(image, member_id)
            self.access.authorize(ctx, image, membership, "delete_member")
            await conn.execute(
                "DELETE FROM image_members WHERE image_id = ? AND member_id = ?",
                (image.id, member_id),
            )
        log.info("image.member_deleted", image_id=image.id, member_id=member_id)

    async def _rows(self, image_id: str) -> builtins.list[ImageMember]:
        rows = await self.db.fetchall(
            f"SELECT {MEMBER_COLUMNS} FROM image_members WHERE image_id = ? ORDER BY created_at",
            (image_id,),
        )
        return [member_from_row(row) for row in rows]

    async def _member(self, image: Image, member_id: str) -> ImageMember:
        row = await self.db.fetchone(
            f"SELECT {MEMBER_COLUMNS} FROM image_members WHERE image_id = ? AND member_id = ?",
            (image.id, member_id),
        )
        if row is None:
            raise NotFound(f"{member_id!r:.80} not found in the member list of image {image.id}.")
        return member_from_row(row)
