"""Client side of the compute service: casts aimed at one host's ``compute.<host>`` queue."""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ComputeAPI"]


class ComputeAPI(RPCAPI):
    """The compute service's RPC API, version 1.1.

    1.1: ``terminate_instance``'s `instance`, the record the API has just marked
    deleting (Nova's cast carries the instance too), so the host need not read it
    again. Sent as 1.1 only with it: a host serving 1.0 still takes every other
    cast and the uuid-only terminate. `served_version` is what every part of the
    host's manager serves; `version` is what a cast asks for unless it needs more.
    """

    topic: ClassVar[str] = "compute"
    version: ClassVar[str] = "1.0"
    served_version: ClassVar[str] = "1.1"

    async def build_and_run_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        request_spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
    ) -> None:
        await self.invoker.prepare(server=host).cast(
            ctx,
            "build_and_run_instance",
            instance_uuid=instance_uuid,
            request_spec=request_spec,
            alternates=alternates,
            attempt=attempt,
        )

    async def terminate_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        *,
        instance: objects.Instance | None = None,
    ) -> None:
        """Have `host` delete the instance; with `instance` (1.1), the record as the
        sender has it, which the host uses unless something on it held the instance
        meanwhile (then it reads the record again, as for a 1.0 cast)."""
        if instance is None:
            await self.invoker.prepare(server=host).cast(
                ctx, "terminate_instance", instance_uuid=instance_uuid
            )
            return
        await self.invoker.prepare(server=host, version="1.1").cast(
            ctx, "terminate_instance", instance_uuid=instance_uuid, instance=instance
        )

    async def get_console_output(self, ctx: RequestContext, host: str, instance_uuid: str) -> str:
        result: str = await self.invoker.prepare(server=host).call(
            ctx, "get_console_output", instance_uuid=instance_uuid
        )
        return result

    async def _cast(self, ctx: RequestContext, host: str, method: str, **kwargs: object) -> None:
        await self.invoker.prepare(server=host).cast(ctx, method, **kwargs)

    async def pause_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "pause_instance", instance_uuid=instance_uuid)

    async def unpause_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "unpause_instance", instance_uuid=instance_uuid)

    async def suspend_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "suspend_instance", instance_uuid=instance_uuid)

    async def resume_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "resume_instance", instance_uuid=instance_uuid)

    async def stop_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "stop_instance", instance_uuid=instance_uuid)

    async def start_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "start_instance", instance_uuid=instance_uuid)

    async def reboot_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, hard: bool
    ) -> None:
        await self._cast(ctx, host, "reboot_instance", instance_uuid=instance_uuid, hard=hard)

    async def rescue_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "rescue_instance", instance_uuid=instance_uuid)

    async def unrescue_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "unrescue_instance", instance_uuid=instance_uuid)

    async def set_admin_password(
        self, ctx: RequestContext, host: str, instance_uuid: str, new_pass: str
    ) -> None:
        await self._cast(
            ctx, host, "set_admin_password", instance_uuid=instance_uuid, new_pass=new_pass
        )

    async def rebuild_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, image_ref: str
    ) -> None:
        await self._cast(
            ctx, host, "rebuild_instance", instance_uuid=instance_uuid, image_ref=image_ref
        )

    async def snapshot_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        image_id: str,
        backup_type: str | None = None,
        rotation: int | None = None,
    ) -> None:
        await self._cast(
            ctx,
            host,
            "snapshot_instance",
            instance_uuid=instance_uuid,
            image_id=image_id,
            backup_type=backup_type,
            rotation=rotation,
        )

    async def shelve_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, image_id: str
    ) -> None:
        await self._cast(
            ctx, host, "shelve_instance", instance_uuid=instance_uuid, image_id=image_id
        )

    async def shelve_offload_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> None:
        await self._cast(ctx, host, "shelve_offload_instance", instance_uuid=instance_uuid)

    async def unshelve_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "unshelve_instance", instance_uuid=instance_uuid)

    async def soft_delete_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> None:
        await self._cast(ctx, host, "soft_delete_instance", instance_uuid=instance_uuid)

    async def restore_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self._cast(ctx, host, "restore_instance", instance_uuid=instance_uuid)

    async def attach_volume(
        self, ctx: RequestContext, host: str, instance_uuid: str, volume_id: str, mountpoint: str
    ) -> None:
        await self._cast(
            ctx,
            host,
            "attach_volume",
            instance_uuid=instance_uuid,
            volume_id=volume_id,
            mountpoint=mountpoint,
        )

    async def detach_volume(
        self, ctx: RequestContext, host: str, instance_uuid: str, volume_id: str
    ) -> None:
        await self._cast(
            ctx, host, "detach_volume", instance_uuid=instance_uuid, volume_id=volume_id
        )

    async def _migration_cast(
        self, ctx: RequestContext, host: str, method: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._cast(
            ctx, host, method, instance_uuid=instance_uuid, migration_uuid=migration_uuid
        )

    async def prep_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "prep_resize", instance_uuid, migration_uuid)

    async def resize_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "resize_instance", instance_uuid, migration_uuid)

    async def finish_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "finish_resize", instance_uuid, migration_uuid)

    async def confirm_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "confirm_resize", instance_uuid, migration_uuid)

    async def revert_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "revert_resize", instance_uuid, migration_uuid)

    async def finish_revert_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        await self._migration_cast(ctx, host, "finish_revert_resize", instance_uuid, migration_uuid)

    async def abandon_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> list[str]:
        """Have one end of a resize that did not complete give back its share (a call)."""
        result: list[str] = await self.invoker.prepare(server=host).call(
            ctx, "abandon_resize", instance_uuid=instance_uuid, migration_uuid=migration_uuid
        )
        return result

    # -- live migration (compute/live_migrate.py) ------------------------------------

    async def live_migration(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        migration_uuid: str,
        dest: str,
        node: str,
    ) -> None:
        """Have the source `host` hand the running guest over to `dest` (a cast)."""
        await self.invoker.prepare(server=host).cast(
            ctx,
            "live_migration",
            instance_uuid=instance_uuid,
            migration_uuid=migration_uuid,
            dest=dest,
            node=node,
        )

    async def receive_live_migration(
        self, ctx: RequestContext, host: str, instance_uuid: str, state: dict[str, Any]
    ) -> None:
        """Have the destination `host` take in the guest the source hands over (a call)."""
        await self.invoker.prepare(server=host).call(
            ctx, "receive_live_migration", instance_uuid=instance_uuid, state=state
        )

    # -- the audit (admins only) --------------------------------------------------

    async def host_ledger(self, ctx: RequestContext, host: str) -> objects.HostLedger:
        """The host's tracker entries, hypervisor guests and busy instances."""
        result: objects.HostLedger = await self.invoker.prepare(server=host).call(
            ctx, "host_ledger"
        )
        return result

    async def settle_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> list[str]:
        """Repair the host's tracker entry and guest of one instance; what was changed."""
        result: list[str] = await self.invoker.prepare(server=host).call(
            ctx, "settle_instance", instance_uuid=instance_uuid
        )
        return result

    async def get_instance_diagnostics(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> dict[str, Any]:
        """The guest's diagnostics, as its host sees it (administrators)."""
        result: dict[str, Any] = await self.invoker.prepare(server=host).call(
            ctx, "get_instance_diagnostics", instance_uuid=instance_uuid
        )
        return result

    async def get_host_uptime(self, ctx: RequestContext, host: str) -> str:
        """The host's uptime, as ``uptime`` prints it (administrators)."""
        result: str = await self.invoker.prepare(server=host).call(ctx, "get_host_uptime")
        return result
