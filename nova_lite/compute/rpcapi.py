"""Client side of the compute service: casts aimed at one host's ``compute.<host>`` queue."""

from __future__ import annotations

from typing import ClassVar

from nova_lite import objects
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ComputeAPI"]


class ComputeAPI(RPCAPI):
    """The compute service's RPC API, version 1.0."""

    topic: ClassVar[str] = "compute"
    version: ClassVar[str] = "1.0"

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

    async def terminate_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        await self.invoker.prepare(server=host).cast(
            ctx, "terminate_instance", instance_uuid=instance_uuid
        )

    async def get_console_output(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> str:
        result: str = await self.invoker.prepare(server=host).call(
            ctx, "get_console_output", instance_uuid=instance_uuid
        )
        return result
