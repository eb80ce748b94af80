"""Who may see and act on an image: Glance's visibility rules and policy targets.

An image is visible to administrators, to its owner project, to everyone when it is
``public`` or ``community``, and, when it is ``shared``, to the projects it is
shared with (whatever their membership's status); anyone else gets `ImageNotFound`,
exactly as if the image did not exist. Past that, each action asks the policy with
Glance's target: the owner as ``project_id`` and ``owner``, the ``visibility``, and
``member_id`` (the caller's project when it is a member of the image), so Glance's
default rules and a deployment's overrides read the same facts.
"""

from __future__ import annotations

from typing import Any

from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import ImageNotFound
from nova_lite.image import checks
from nova_lite.image.schema import SELECT_IMAGES, image_from_row
from nova_lite.objects import Image
from nova_lite.policy import Enforcer

__all__ = ["ImageAccess", "is_admin", "target"]


def is_admin(ctx: RequestContext) -> bool:
    """Whether the caller administers the cloud (admin role or an elevated context)."""
    return ctx.is_admin or "admin" in ctx.roles


class ImageAccess:
    """Loads images as a caller may see them, and asks the policy about them."""

    def __init__(self, db: Database, policy: Enforcer) -> None:
        self.db = db
        self.policy = policy

    def __repr__(self) -> str:
        return f"<ImageAccess {self.db!r}>"

    async def membership(self, ctx: RequestContext, image_id: str) -> str | None:
        """The status of the caller's project's membership of the image, if it has one."""
        row = await self.db.fetchone(
            "SELECT status FROM image_members WHERE image_id = ? AND member_id = ?",
            (image_id, ctx.project_id),
        )
        return None if row is None else str(row[0])

    async def memberships(self, ctx: RequestContext) -> dict[str, str]:
        """Every shared image the caller's project is a member of, with the status."""
        rows = await self.db.fetchall(
            "SELECT image_id, status FROM image_members WHERE member_id = ?", (ctx.project_id,)
        )
        return {str(row[0]): str(row[1]) for row in rows}

    async def load(self, image_id: str) -> Image | None:
        """The image `image_id` as stored, whoever asks (None if there is none)."""
        row = await self.db.fetchone(f"{SELECT_IMAGES} WHERE images.id = ?", (image_id,))
        return None if row is None else image_from_row(row)

    async def visible(self, ctx: RequestContext, image_id: Any) -> tuple[Image, str | None]:
        """The image and the caller's membership status; `ImageNotFound` if not visible."""
        image_id = checks.check_image_id(image_id)
        image = await self.load(image_id)
        membership = None if image is None else await self.membership(ctx, image_id)
        if image is None or not _can_see(ctx, image, membership):
            raise ImageNotFound(f"No image found with ID {image_id}", image_id=image_id)
        return image, membership

    async def authorized(
        self, ctx: RequestContext, image_id: Any, rule: str, **extra: Any
    ) -> Image:
        """The image, if visible (else `ImageNotFound`) and `rule` lets the caller act."""
        image, membership = await self.visible(ctx, image_id)
        self.authorize(ctx, image, membership, rule, **extra)
        return image

    def authorize(
        self,
        ctx: RequestContext,
        image: Image,
        membership: str | None,
        rule: str,
        **extra: Any,
    ) -> None:
        """`PolicyNotAuthorized` unless `rule` lets the caller act on `image`."""
        self.policy.authorize(ctx, rule, target(ctx, image, membership, **extra))


def target(
    ctx: RequestContext, image: Image, membership: str | None, **extra: Any
) -> dict[str, Any]:
    """What the policy rules read about `image` (Glance's ``ImageTarget``)."""
    return {
        "project_id": image.owner,
        "owner": image.owner,
        "visibility": image.visibility,
        "member_id": ctx.project_id if membership is not None else None,
        **extra,
    }


def _can_see(ctx: RequestContext, image: Image, membership: str | None) -> bool:
    if is_admin(ctx) or image.visibility in ("public", "community"):
        return True
    if image.owner is not None and image.owner == ctx.project_id:
        return True
    return image.visibility == "shared" and membership is not None
