"""Building an instance on a compute host, step by step, and undoing it.

`InstanceBuilder.build` walks Nova's build task_states: scheduling → networking →
block_device_mapping → spawning → ACTIVE. Failures are sorted as Nova sorts them:
the delete winning (clean up quietly), a failure another host may not repeat
(`RescheduledException`, hypervisor errors: clean up, release the claim, ask the
conductor for the next alternate), or a failure rescheduling cannot fix (bad image,
no network address, bad volume: clean up and go to ERROR with a fault).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    HypervisorError,
    InstanceNotFound,
    NovaError,
    NovaLiteError,
    RescheduledException,
    UnexpectedDeletingTaskStateError,
    UnexpectedTaskStateError,
)
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.volume.rpcapi import VolumeAPI

if TYPE_CHECKING:
    from nova_lite.compute.manager import ComputeManager

__all__ = ["InstanceBuilder"]

log = structlog.get_logger(__name__)

_RESCHEDULABLE = (RescheduledException, HypervisorError)


class InstanceBuilder:
    """Builds and tears down instances for one ComputeManager."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        config, transport = manager.config, manager.transport
        self.image = ImageAPI(transport, config)
        self.network = NetworkAPI(transport, config)
        self.volume = VolumeAPI(transport, config)
        self.cache_dir = config.service_dir("compute", manager.host, "images")
        self._image_locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    async def build(
        self,
        ctx: RequestContext,
        uuid: str,
        spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
    ) -> None:
        """Build `uuid` here; on failure reschedule or put it in ERROR."""
        m = self.manager
        try:
            instance = await m.conductor.instance_get(ctx, uuid)
        except InstanceNotFound:
            await m.scheduler.release(ctx, uuid)
            return
        log.info("compute.build.start", instance_uuid=uuid, host=m.host, attempt=attempt)
        await m.notifier.info(ctx, "instance.create.start", instance_payload(instance))
        m.tracker.builds_in_progress += 1
        try:
            instance = await self._build_resources_and_spawn(ctx, instance)
        except (UnexpectedDeletingTaskStateError, InstanceNotFound):
            log.info("compute.build.deleted_during_build", instance_uuid=uuid)
            await self.release_resources(ctx, instance)
            return
        except UnexpectedTaskStateError as exc:
            await self._taken_over(ctx, instance, exc)
            return
        except _RESCHEDULABLE as exc:
            await self._reschedule(ctx, instance, spec, alternates, attempt, exc)
            return
        except Exception as exc:
            await self._abort(ctx, instance, exc)
            return
        finally:
            m.tracker.builds_in_progress -= 1
        m.tracker.build_result(failed=False)
        log.info("compute.build.done", instance_uuid=uuid, host=m.host)
        await m.notifier.info(ctx, "instance.create.end", instance_payload(instance))

    async def _save_task(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        task_state: str | None,
        expected: str | None,
        **values: Any,
    ) -> objects.Instance:
        return await self.manager.conductor.instance_update(
            ctx,
            instance.uuid,
            {"task_state": task_state, **values},
            expected_task_state=[expected],
        )

    async def _build_resources_and_spawn(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> objects.Instance:
        m = self.manager
        m.tracker.claim(instance.uuid, instance.flavor)
        instance = await self._save_task(
            ctx, instance, task_states.NETWORKING, task_states.SCHEDULING
        )
        ports = await self.network.allocate_for_instance(
            ctx, instance.uuid, list(instance.networks), instance.project_id
        )
        instance = await self._save_task(
            ctx,
            instance,
            task_states.BLOCK_DEVICE_MAPPING,
            task_states.NETWORKING,
            addresses=[_address(p) for p in ports],
        )
        volumes = await self._prepare_volumes(ctx, instance)
        instance = await self._save_task(
            ctx, instance, task_states.SPAWNING, task_states.BLOCK_DEVICE_MAPPING
        )
        image, image_path = await self.fetch_image(ctx, instance)
        await m.driver.spawn(instance, image, image_path, ports, volumes)
        for port in ports:
            await self.network.bind_port(ctx, port.id, m.host)
        info = await m.driver.get_info(instance)
        return await m.conductor.instance_update(
            ctx,
            instance.uuid,
            {
                "vm_state": vm_states.ACTIVE,
                "task_state": None,
                "power_state": info.state,
                "launched_at": objects.utcnow(),
            },
            expected_task_state=[task_states.SPAWNING],
        )

    async def fetch_image(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> tuple[objects.Image | None, Path | None]:
        """The instance's image, downloaded once per host into the verified cache.

        A driver that boots images needing other images (a kernel and a ramdisk named
        by ``kernel_id``/``ramdisk_id``) gets them fetched the same way, through its
        optional ``prepare_image_files(image, fetch)`` hook.
        """
        if not instance.image_ref:
            return None, None
        image, path = await self._cached_image(ctx, instance.image_ref)
        prepare = getattr(self.manager.driver, "prepare_image_files", None)
        if prepare is not None:

            async def fetch(image_id: str) -> Path:
                return (await self._cached_image(ctx, image_id))[1]

            await prepare(image, fetch)
        return image, path

    async def _cached_image(self, ctx: RequestContext, image_id: str) -> tuple[objects.Image, Path]:
        """One image's metadata and its verified copy in this host's cache."""
        image = await self.image.get(ctx, image_id)
        path = self.cache_dir / image.id
        async with self._image_locks[image.id]:
            if not path.exists():
                await self.image.download_to(ctx, image.id, path, expected_checksum=image.checksum)
        return image, path

    async def _prepare_volumes(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> list[objects.Volume]:
        """Create or reserve each mapped volume and attach it to the instance."""
        volumes = []
        for index, bdm in enumerate(instance.block_devices):
            volume_id = bdm.volume_id
            if volume_id is None:
                name = f"{instance.display_name}-vol{index}"
                created = await self.volume.create(
                    ctx, bdm.volume_size or 1, name=name, image_id=bdm.image_id
                )
                volume_id = created.id
            await self.volume.reserve(ctx, volume_id)
            mountpoint = bdm.device_name or f"/dev/vd{chr(ord('a') + index)}"
            volumes.append(await self.volume.attach(ctx, volume_id, instance.uuid, mountpoint))
        return volumes

    async def _reschedule(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
        exc: Exception,
    ) -> None:
        m = self.manager
        log.warning("compute.build.rescheduling", instance_uuid=instance.uuid, error=str(exc))
        m.tracker.build_result(failed=True)
        await self.release_resources(ctx, instance)
        try:
            await m.conductor.instance_update(
                ctx,
                instance.uuid,
                {"task_state": task_states.SCHEDULING, "host": None, "node": None, "addresses": []},
                expected_vm_state=[vm_states.BUILDING],
                expected_task_state=_BUILD_TASK_STATES,
            )
        except NovaLiteError:
            return  # deleted meanwhile: nothing left to build
        await m.conductor.reschedule_instance(ctx, spec, alternates, attempt, str(exc))

    async def _taken_over(
        self, ctx: RequestContext, instance: objects.Instance, exc: Exception
    ) -> None:
        """Someone else moved the instance on (the build timeout put it in ERROR)."""
        try:
            current = await self.manager.conductor.instance_get(ctx, instance.uuid)
        except InstanceNotFound:
            await self.release_resources(ctx, instance)
            return
        if current.vm_state == vm_states.ERROR:
            log.info("compute.build.taken_over", instance_uuid=instance.uuid)
            await self.release_resources(ctx, instance)
            if current.host is not None:
                current = await self.manager.conductor.instance_update(
                    ctx, instance.uuid, {"host": None, "node": None}, expected_task_state=[None]
                )
            await self.manager.notifier.error(
                ctx, "instance.create.error", instance_payload(current)
            )
            return
        await self._abort(ctx, instance, exc)

    async def _abort(self, ctx: RequestContext, instance: objects.Instance, exc: Exception) -> None:
        m = self.manager
        if not isinstance(exc, NovaLiteError):
            log.exception("compute.build.crashed", instance_uuid=instance.uuid)
        m.tracker.build_result(failed=True)
        await self.release_resources(ctx, instance)
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(code=code, message=str(exc), details=type(exc).__name__)
        instance = await m.conductor.instance_set_error(ctx, instance.uuid, fault)
        if instance.vm_state == vm_states.ERROR:  # its claim is gone: it holds no host
            instance = await m.conductor.instance_update(
                ctx, instance.uuid, {"host": None, "node": None}, expected_task_state=[None]
            )
        await m.notifier.error(ctx, "instance.create.error", instance_payload(instance))

    async def release_resources(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """Undo a build or a whole instance: guest, ports, volumes, claims. Idempotent."""
        m = self.manager
        await _quietly("destroy guest", m.driver.destroy(instance))
        await _quietly("deallocate ports", self.network.deallocate_for_instance(ctx, instance.uuid))
        await self._release_volumes(ctx, instance)
        m.tracker.drop(instance.uuid)
        await _quietly("release claim", m.scheduler.release(ctx, instance.uuid))

    async def _release_volumes(self, ctx: RequestContext, instance: objects.Instance) -> None:
        for volume in await self.attached_volumes(ctx, instance):
            await _quietly("detach volume", self.volume.detach(ctx, volume.id, instance.uuid))
            bdm = _mapping_for(instance.block_devices, volume.id)
            if bdm is None or bdm.delete_on_termination:
                await _quietly("delete volume", self.volume.delete(ctx, volume.id))

    async def attached_volumes(
        self, ctx: RequestContext, instance: objects.Instance
    ) -> list[objects.Volume]:
        try:
            volumes = await self.volume.list(ctx)
        except NovaLiteError:
            return []
        return [v for v in volumes if v.attached_to == instance.uuid]


_BUILD_TASK_STATES: list[str | None] = [
    task_states.SCHEDULING,
    task_states.NETWORKING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.SPAWNING,
]


def _address(port: objects.Port) -> dict[str, str]:
    ip = port.fixed_ips[0]["ip_address"] if port.fixed_ips else ""
    return {"network_id": port.network_id, "port_id": port.id, "mac": port.mac_address, "addr": ip}


def _mapping_for(
    mappings: Sequence[objects.BlockDevice], volume_id: str
) -> objects.BlockDevice | None:
    return next((m for m in mappings if m.volume_id == volume_id), None)


async def _quietly(what: str, step: Any) -> None:
    """Run a clean-up step; a failure is logged, never raised (clean-up must finish)."""
    try:
        await step
    except (NovaLiteError, OSError) as exc:
        log.warning("compute.cleanup_step_failed", step=what, error=str(exc))
