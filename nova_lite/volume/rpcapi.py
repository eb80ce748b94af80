"""The client side of the volume service: what the API and compute call to reach it."""

from __future__ import annotations

import builtins
from typing import ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["VolumeAPI"]


class VolumeAPI(RPCAPI):
    """The volume service's RPC API, version 1.0 (every method is a call).

    An attach is ``reserve`` then ``attach`` (``unreserve`` if it fails); a detach is
    ``begin_detaching`` then ``detach`` (``roll_detaching`` if it fails).
    """

    topic: ClassVar[str] = "volume"
    version: ClassVar[str] = "1.0"

    async def create(
        self, ctx: RequestContext, size: int, *, name: str | None = "", image_id: str | None = None
    ) -> objects.Volume:
        """Create a volume of `size` GiB (1 to 16384); bootable when made from an image."""
        result: objects.Volume = await self.invoker.call(
            ctx, "create", size=size, name=name, image_id=image_id
        )
        return result

    async def get(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """One visible volume (VolumeNotFound otherwise)."""
        return await self._volume_call(ctx, "get", volume_id)

    async def list(self, ctx: RequestContext) -> builtins.list[objects.Volume]:
        """The caller's project's volumes (all, for admins)."""
        result: builtins.list[objects.Volume] = await self.invoker.call(ctx, "list")
        return result

    async def reserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """available -> attaching, or VolumeInvalidState."""
        return await self._volume_call(ctx, "reserve", volume_id)

    async def unreserve(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """attaching -> available, or VolumeInvalidState."""
        return await self._volume_call(ctx, "unreserve", volume_id)

    async def attach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str, mountpoint: str
    ) -> objects.Volume:
        """attaching -> in-use, recording the instance and mountpoint."""
        return await self._volume_call(
            ctx, "attach", volume_id, instance_uuid=instance_uuid, mountpoint=mountpoint
        )

    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """in-use -> detaching, or VolumeInvalidState."""
        return await self._volume_call(ctx, "begin_detaching", volume_id)

    async def roll_detaching(self, ctx: RequestContext, volume_id: str) -> objects.Volume:
        """detaching -> in-use, or VolumeInvalidState."""
        return await self._volume_call(ctx, "roll_detaching", volume_id)

    async def detach(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> objects.Volume:
        """in-use or detaching -> available, ending the attachment to `instance_uuid`."""
        return await self._volume_call(ctx, "detach", volume_id, instance_uuid=instance_uuid)

    async def delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete an available or errored volume, or VolumeInvalidState."""
        await self.invoker.call(ctx, "delete", volume_id=volume_id)

    async def reset_status(
        self, ctx: RequestContext, volume_id: str, status: str
    ) -> objects.Volume:
        """Force a volume's status (admin only)."""
        return await self._volume_call(ctx, "reset_status", volume_id, status=status)

    async def _volume_call(
        self, ctx: RequestContext, method: str, volume_id: str, **kwargs: str
    ) -> objects.Volume:
        result: objects.Volume = await self.invoker.call(ctx, method, volume_id=volume_id, **kwargs)
        return result
