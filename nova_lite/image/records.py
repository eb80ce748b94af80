"""The image service's endpoints for image records: create, show, list, update, delete,
tags, deactivate and reactivate (Glance's ``/v2/images`` resource, less the data).

Every change is one write transaction that reads the image again inside it, so two
updates never lose each other's changes. Protected images cannot be deleted (403);
``deactivate`` and ``reactivate`` move an image between ``active`` and
``deactivated`` (a no-op when it is already there, 403 from any other status).
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any, ClassVar

import attrs
import structlog

from nova_lite import validators
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import (
    Conflict,
    Forbidden,
    ImageLimitExceeded,
    Invalid,
    NotFound,
    QuotaExceeded,
)
from nova_lite.image import checks, patch
from nova_lite.image.access import ImageAccess, is_admin, target
from nova_lite.image.query import Caller, select
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import COLUMNS, PLACEHOLDERS, SELECT_IMAGES, image_from_row, row_values
from nova_lite.image.store import ImageStore
from nova_lite.objects import Image, ImageChange, ImageQuery, utcnow
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["ImageRecords", "save_image"]

log = structlog.get_logger(__name__)

#: What `list` returns without a query: Glance's default scope, oldest first.
OLDEST_FIRST = ImageQuery(sort_keys=("created_at",), sort_dirs=("asc",))


_ASSIGNMENTS = ", ".join(f"{field} = ?" for field in COLUMNS.split(", ")[1:])


async def save_image(conn: Any, image: Image, *, new: bool = False) -> None:
    """Write `image` (its tags too) as its row, inside a transaction (`new`: insert it)."""
    if new:
        sql = f"INSERT INTO images ({COLUMNS}) VALUES ({PLACEHOLDERS})"
        await conn.execute(sql, row_values(image))
    else:
        sql = f"UPDATE images SET {_ASSIGNMENTS} WHERE id = ?"
        await conn.execute(sql, (*row_values(image)[1:], image.id))
        await conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image.id,))
    await conn.executemany(
        "INSERT INTO image_tags (image_id, tag) VALUES (?, ?)", [(image.id, t) for t in image.tags]
    )


class ImageRecords:
    """The endpoints that create, read, change and delete image records."""

    target: ClassVar[Target] = Target(version=ImageAPI.version)

    def __init__(
        self, db: Database, access: ImageAccess, store: ImageStore, *, max_images: int
    ) -> None:
        self.db = db
        self.access = access
        self.store = store
        self.max_images = max_images

    def __repr__(self) -> str:
        return f"<ImageRecords {self.db!r}>"

    # -- create, read ----------------------------------------------------------

    @endpoint
    async def create(
        self,
        ctx: RequestContext,
        name: str | None,
        disk_format: str = "raw",
        container_format: str = "bare",
        visibility: str = "private",
        min_disk: int = 0,
        min_ram: int = 0,
        properties: dict[str, str] | None = None,
        protected: bool = False,
        os_hidden: bool = False,
        tags: list[str] | None = None,
        owner: str | None = None,
        image_id: str | None = None,
    ) -> Image:
        """A new ``queued`` image, owned by `owner` (default: the caller's project).

        Public images need ``publicize_image`` (administrators), community images
        ``communitize_image``, another project as owner an administrator (Glance's
        ``add_image``); an `image_id` of the caller's choosing must be a new UUID.
        """
        now = utcnow()
        image = Image(
            id=_new_id(image_id),
            name=validators.image_name(name),
            disk_format=checks.check_choice("disk_format", disk_format, checks.DISK_FORMATS),
            container_format=checks.check_choice(
                "container_format", container_format, checks.CONTAINER_FORMATS
            ),
            visibility=checks.check_choice("visibility", visibility, checks.VISIBILITIES),
            min_disk=checks.check_count("min_disk", min_disk),
            min_ram=checks.check_count("min_ram", min_ram),
            owner=ctx.project_id if owner is None else _owner(owner),
            properties={k: str(v) for k, v in checks.check_properties(properties or {}).items()},
            protected=protected,
            os_hidden=os_hidden,
            tags=checks.check_tags(tags or []),
            created_at=now,
            updated_at=now,
        )
        self._authorize_create(ctx, image)
        async with self.db.transaction() as conn:  # count and insert at once: no overshoot
            await self._check_image_quota(conn, image.owner)
            if await self.access.load(image.id) is not None:
                raise Conflict(f"An image with identifier {image.id} already exists")
            await save_image(conn, image, new=True)
        log.info("image.created", image_id=image.id, owner=image.owner)
        return image

    def _authorize_create(self, ctx: RequestContext, image: Image) -> None:
        target = {"project_id": image.owner, "owner": image.owner, "visibility": image.visibility}
        self.access.policy.authorize(ctx, "add_image", target)
        rule = {"public": "publicize_image", "community": "communitize_image"}
        if image.visibility in rule:
            self.access.policy.authorize(ctx, rule[image.visibility], target)

    @endpoint
    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image `image_id`; `ImageNotFound` if it is missing or not visible."""
        return await self.access.authorized(ctx, image_id, "get_image")

    @endpoint
    async def list(
        self, ctx: RequestContext, query: ImageQuery | None = None
    ) -> builtins.list[Image]:
        """The images `query` asks for (Glance's filters, sorting and paging; see
        `nova_lite.image.query`); without one, Glance's default list, oldest first."""
        self.access.policy.authorize(ctx, "get_images", {"project_id": ctx.project_id})
        memberships = await self.access.memberships(ctx)
        if is_admin(ctx):
            rows = await self.db.fetchall(SELECT_IMAGES)
        else:
            rows = await self.db.fetchall(
                f"{SELECT_IMAGES} WHERE images.visibility IN ('public', 'community')"
                " OR images.owner = ? OR images.id IN"
                " (SELECT image_id FROM image_members WHERE member_id = ?)",
                (ctx.project_id, ctx.project_id),
            )
        caller = Caller(ctx.project_id, is_admin(ctx), memberships)
        found = select([image_from_row(r) for r in rows], query or OLDEST_FIRST, caller)
        return [i for i in found if self._may_get(ctx, i, memberships.get(i.id))]

    def _may_get(self, ctx: RequestContext, image: Image, membership: str | None) -> bool:
        return self.access.policy.check(ctx, "get_image", target(ctx, image, membership))

    # -- change ----------------------------------------------------------------

    @endpoint
    async def update(
        self,
        ctx: RequestContext,
        image_id: str,
        name: str | None = None,
        properties: dict[str, str | None] | None = None,
        purge_properties: bool = False,
    ) -> Image:
        """Rename an image and/or set its extra `properties` (a None value removes a key).

        `name` None leaves the name as it is; ``""`` clears it (Glance allows no name).
        With `purge_properties`, the extra properties become exactly `properties`
        (Nova's ``PUT /images/{id}/metadata``).
        """
        new_name = None if name is None else validators.image_name(name)
        changes = checks.check_properties(properties or {}, allow_none=True)
        async with self.db.transaction() as conn:  # read-modify-write, so no update is lost
            image = await self.access.authorized(ctx, image_id, "modify_image")
            base = {} if purge_properties else image.properties
            merged = _merge_properties(base, changes)
            renamed = image.name if new_name is None else new_name
            updated = attrs.evolve(image, name=renamed, properties=merged, updated_at=utcnow())
            await save_image(conn, updated)
        return updated

    @endpoint
    async def update_image(
        self,
        ctx: RequestContext,
        image_id: str,
        changes: builtins.list[ImageChange],
        strict_add: bool = False,
    ) -> Image:
        """Apply Glance's update operations (add, replace, remove) all or none.

        See `nova_lite.image.patch` for what each may change; `strict_add` is the v2.0
        patch dialect, where adding a property that exists is a conflict.
        """
        async with self.db.transaction() as conn:
            image, membership = await self.access.visible(ctx, image_id)
            self.access.authorize(ctx, image, membership, "modify_image")
            outcome = patch.apply(image, changes, is_admin=is_admin(ctx), strict_add=strict_add)
            for rule in outcome.rules:
                self.access.authorize(ctx, image, membership, rule)
            if outcome.image == image:
                return image
            updated = attrs.evolve(outcome.image, updated_at=utcnow())
            await save_image(conn, updated)
        log.info("image.updated", image_id=image.id, changes=len(changes))
        return updated

    @endpoint
    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Tag an image (a tag it has already changes nothing); 413 past 128 tags."""
        tag = checks.check_tag(tag)
        async with self.db.transaction() as conn:
            image = await self.access.authorized(ctx, image_id, "modify_image")
            if tag in image.tags:
                return image
            updated = attrs.evolve(
                image, tags=checks.check_tags([*image.tags, tag]), updated_at=utcnow()
            )
            await save_image(conn, updated)
        return updated

    @endpoint
    async def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Take a tag off an image; `NotFound` if the image does not have it."""
        async with self.db.transaction() as conn:
            image = await self.access.authorized(ctx, image_id, "modify_image")
            if tag not in image.tags:
                raise NotFound(f"Tag {tag!r:.80} not found on image {image.id}.")
            tags = tuple(t for t in image.tags if t != tag)
            updated = attrs.evolve(image, tags=tags, updated_at=utcnow())
            await save_image(conn, updated)
        return updated

    @endpoint
    async def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """Make an active image's data unavailable to all but administrators."""
        return await self._move(ctx, image_id, "deactivate", "active", "deactivated")

    @endpoint
    async def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """Make a deactivated image's data available again."""
        return await self._move(ctx, image_id, "reactivate", "deactivated", "active")

    async def _move(
        self, ctx: RequestContext, image_id: str, rule: str, source: str, goal: str
    ) -> Image:
        async with self.db.transaction() as conn:
            image = await self.access.authorized(ctx, image_id, rule)
            if image.status == goal:
                return image
            if image.status != source:
                raise Forbidden(f"Not allowed to {rule} image in status '{image.status}'")
            updated = attrs.evolve(image, status=goal, updated_at=utcnow())
            await save_image(conn, updated)
        log.info(f"image.{rule}d", image_id=image.id)
        return updated

    # -- delete ----------------------------------------------------------------

    @endpoint
    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image, its tags, members and data; 403 while it is protected."""
        async with self.db.transaction() as conn:
            image = await self.access.authorized(ctx, image_id, "delete_image")
            if image.protected:
                raise Forbidden(f"Image {image.id} is protected and cannot be deleted.")
            await conn.execute("DELETE FROM images WHERE id = ?", (image.id,))
        await self.store.remove(image.id)
        log.info("image.deleted", image_id=image.id)

    async def _check_image_quota(self, conn: Any, owner: str | None) -> None:
        """`QuotaExceeded` if the owner project already has ``[quota] images`` images."""
        if self.max_images < 0:
            return
        async with conn.execute("SELECT count(*) FROM images WHERE owner = ?", (owner,)) as cursor:
            row = await cursor.fetchone()
        if row[0] >= self.max_images:
            raise QuotaExceeded(
                f"Quota exceeded for images: project {owner} has {row[0]} of its "
                f"{self.max_images} images ([image] image_count_total).",
                resource="images",
            )


def _new_id(requested: str | None) -> str:
    if requested is None:
        return str(uuid.uuid4())
    if not checks.is_image_id(requested):
        raise Invalid(f"Invalid image id {requested!r:.80}: it must be a lowercase UUID.")
    return requested


def _owner(owner: str) -> str:
    if not 1 <= len(owner) <= 255:
        raise Invalid(f"owner {owner!r:.80} must be 1 to 255 characters.")
    return owner


def _merge_properties(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > checks.MAX_PROPERTIES:
        raise ImageLimitExceeded(
            f"Maximum number of image properties exceeded: {len(merged)} of "
            f"{checks.MAX_PROPERTIES}."
        )
    return merged
