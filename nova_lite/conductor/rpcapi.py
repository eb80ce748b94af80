"""Client side of the conductor: what the API and compute hosts call."""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ConductorAPI"]


class ConductorAPI(RPCAPI):
    """The conductor's RPC API, version 1.0."""

    topic: ClassVar[str] = "conductor"
    version: ClassVar[str] = "1.0"

    async def flavor_create(self, ctx: RequestContext, flavor: objects.Flavor) -> objects.Flavor:
        result: objects.Flavor = await self.invoker.call(ctx, "flavor_create", flavor=flavor)
        return result

    async def flavor_get(self, ctx: RequestContext, flavor_ref: str) -> objects.Flavor:
        result: objects.Flavor = await self.invoker.call(ctx, "flavor_get", flavor_ref=flavor_ref)
        return result

    async def flavor_list(self, ctx: RequestContext) -> list[objects.Flavor]:
        result: list[objects.Flavor] = await self.invoker.call(ctx, "flavor_list")
        return result

    async def quota_get(self, ctx: RequestContext, project_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.invoker.call(ctx, "quota_get", project_id=project_id)
        return result

    async def quota_set(
        self, ctx: RequestContext, project_id: str, resource: str, limit: int
    ) -> None:
        await self.invoker.call(
            ctx, "quota_set", project_id=project_id, resource=resource, limit=limit
        )

    async def create_instances(
        self, ctx: RequestContext, instances: list[objects.Instance]
    ) -> list[objects.Instance]:
        result: list[objects.Instance] = await self.invoker.call(
            ctx, "create_instances", instances=instances
        )
        return result

    async def schedule_and_build_instances(
        self, ctx: RequestContext, request_specs: list[objects.RequestSpec]
    ) -> None:
        await self.invoker.cast(ctx, "schedule_and_build_instances", request_specs=request_specs)

    async def reschedule_instance(
        self,
        ctx: RequestContext,
        request_spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
        reason: str,
    ) -> None:
        await self.invoker.cast(
            ctx,
            "reschedule_instance",
            request_spec=request_spec,
            alternates=alternates,
            attempt=attempt,
            reason=reason,
        )

    async def instance_get(
        self, ctx: RequestContext, instance_uuid: str, *, read_deleted: bool = False
    ) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx, "instance_get", instance_uuid=instance_uuid, read_deleted=read_deleted
        )
        return result

    async def instance_get_all(
        self,
        ctx: RequestContext,
        *,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        result: list[objects.Instance] = await self.invoker.call(
            ctx,
            "instance_get_all",
            project_id=project_id,
            host=host,
            read_deleted=read_deleted,
        )
        return result

    async def instance_update(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        *,
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
    ) -> objects.Instance:
        """Save `values`; with expected states, a compare-and-swap."""
        result: objects.Instance = await self.invoker.call(
            ctx,
            "instance_update",
            instance_uuid=instance_uuid,
            values=values,
            expected_task_state=expected_task_state,
            expected_vm_state=expected_vm_state,
        )
        return result

    async def instance_set_error(
        self, ctx: RequestContext, instance_uuid: str, fault: objects.InstanceFault
    ) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx, "instance_set_error", instance_uuid=instance_uuid, fault=fault
        )
        return result

    async def instance_destroy(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx, "instance_destroy", instance_uuid=instance_uuid
        )
        return result
