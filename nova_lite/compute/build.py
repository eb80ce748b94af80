"""Building an instance on a compute host, step by step, and tearing it down.

`InstanceBuilder.build_and_run_instance` walks Nova's build task_states: scheduling →
networking → block_device_mapping (only when there are volumes to map) → spawning →
ACTIVE. Failures are sorted as Nova sorts them:
the delete winning (clean up quietly), a failure another host may not repeat
(`RescheduledException`, hypervisor errors: clean up, release the claim, ask the
conductor for the next alternate), or a failure rescheduling cannot fix (bad image,
no network address, bad volume: clean up and go to ERROR with a fault).
`terminate_instance` and the host's recovery use the same `release_resources`.

The build is the create action's ``compute__do_build_and_run_instance`` event, as in
Nova: it starts with the save that takes the build on and ends with the save that
makes the instance ACTIVE, puts it in ERROR or hands it back for rescheduling (with
the traceback). Those saves carry the event (`EventStep`), so it costs no message.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeVar

import structlog

from nova_lite import objects
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.guests import attached_volumes
from nova_lite.compute.image_cache import ImageCache
from nova_lite.compute.locks import InstanceLocks
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.resource_tracker import ResourceTracker
from nova_lite.compute.rpcapi import ComputeAPI
from nova_lite.conductor.rpcapi import ConductorAPI
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
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.rpc.retry import OUTCOME_UNKNOWN, retried
from nova_lite.scheduler.rpcapi import SchedulerAPI
from nova_lite.telemetry.steps import NO_STAGE, BuildWatch
from nova_lite.virt.driver import ComputeDriver
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["BUILD_EVENT", "InstanceBuilder"]

BUILD_EVENT = "compute__do_build_and_run_instance"

log = structlog.get_logger(__name__)

T = TypeVar("T")

_RESCHEDULABLE = (RescheduledException, HypervisorError)


class InstanceBuilder:
    """Builds and tears down the instances of one host (its build and delete endpoints)."""

    target: ClassVar[Target] = Target(version=ComputeAPI.served_version)

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        tracker: ResourceTracker,
        locks: InstanceLocks,
        images: ImageCache,
        *,
        conductor: ConductorAPI,
        scheduler: SchedulerAPI,
        network: NetworkAPI,
        volume: VolumeAPI,
        notifier: Notifier,
    ) -> None:
        self.host = host
        self.driver = driver
        self.tracker = tracker
        self.locks = locks
        self.images = images
        self.conductor = conductor
        self.scheduler = scheduler
        self.network = network
        self.volume = volume
        self.notifier = notifier

    def __repr__(self) -> str:
        return f"<InstanceBuilder {self.host} building={self.tracker.builds_in_progress}>"

    @endpoint
    async def build_and_run_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        request_spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
    ) -> None:
        """Build the instance here (cast by the conductor)."""
        async with self.locks.hold(instance_uuid):
            await self._build(ctx, instance_uuid, request_spec, alternates, attempt)

    @endpoint
    async def terminate_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        instance: objects.Instance | None = None,
    ) -> None:
        """Destroy the guest, release its ports, volumes and claims, mark it deleted.

        With `instance` (1.1: the record the API marked deleting) the record is not
        read again, as Nova's compute takes the cast's instance, unless another
        operation on this host held the instance when the cast came (it may have
        changed the record since: then it is read under the lock, as for 1.0). A
        terminate sent twice finds the instance gone at its destroy and stops there
        (the release steps before it are idempotent); one without `instance` finds
        it gone at once.
        """
        given = instance is not None and instance.uuid == instance_uuid
        known = instance if given and instance_uuid not in self.locks.held() else None
        async with self.locks.hold(instance_uuid):
            try:
                if known is None:
                    known = await self.conductor.instance_get(ctx, instance_uuid)
            except InstanceNotFound:
                return
            await self.notifier.info(ctx, "instance.delete.start", instance_payload(known))
            await self.release_resources(ctx, known)
            try:
                destroyed = await self._retried(
                    "mark the instance deleted",
                    lambda: self.conductor.instance_destroy(ctx, instance_uuid),
                )
            except InstanceNotFound:  # another terminate of it (or this one's first try) did
                log.info("compute.terminate.already_deleted", instance_uuid=instance_uuid)
                return
            await self.notifier.info(ctx, "instance.delete.end", instance_payload(destroyed))

    async def _build(
        self,
        ctx: RequestContext,
        uuid: str,
        spec: objects.RequestSpec,
        alternates: list[objects.Selection],
        attempt: int,
    ) -> None:
        """Build `uuid` here; on failure reschedule or put it in ERROR."""
        instance = await self._begin(ctx, uuid)
        if instance is None:
            return
        log.info("compute.build.start", instance_uuid=uuid, host=self.host, attempt=attempt)
        await self.notifier.info(ctx, "instance.create.start", instance_payload(instance))
        watch = BuildWatch.of(self.conductor.invoker.transport, uuid)
        self.tracker.builds_in_progress += 1
        try:
            instance = await self._build_resources_and_spawn(ctx, instance, spec.image, watch)
        except (UnexpectedDeletingTaskStateError, InstanceNotFound) as exc:
            _finished(watch, "deleted")
            log.info("compute.build.deleted_during_build", instance_uuid=uuid)
            await self.release_resources(ctx, instance)
            await self._event_failed(ctx, uuid, exc)
            return
        except UnexpectedTaskStateError as exc:
            _finished(watch, "taken_over")
            await self._taken_over(ctx, instance, exc)
            return
        except _RESCHEDULABLE as exc:
            _finished(watch, "rescheduled")
            await self._reschedule(ctx, instance, spec, alternates, attempt, exc)
            return
        except Exception as exc:
            _finished(watch, "failed")
            await self._abort(ctx, instance, exc)
            return
        finally:
            self.tracker.builds_in_progress -= 1
        _finished(watch, "active")
        self.tracker.build_result(failed=False)
        log.info("compute.build.done", instance_uuid=uuid, host=self.host)
        await self.notifier.info(ctx, "instance.create.end", instance_payload(instance))

    async def _begin(self, ctx: RequestContext, uuid: str) -> objects.Instance | None:
        """Take the build on: ``scheduling`` → ``networking``, only if it is this host's.

        The record is not read first, nor taken from the cast: the save is a
        compare-and-swap on what the record must be for this host to build it
        (BUILDING, ``scheduling``, placed here), and it returns the record. A copy of
        the cast (sent again by the conductor's reconciliation after a broker
        outage, or redelivered) finds that the build moved on, or went elsewhere,
        and is dropped. A delete under way wins: what the placement took is given back.
        """
        try:
            return await self.conductor.instance_update(
                ctx,
                uuid,
                {"task_state": task_states.NETWORKING},
                expected_task_state=[task_states.SCHEDULING],
                expected_vm_state=[vm_states.BUILDING],
                expected_host=self.host,
                event={"event": BUILD_EVENT, "host": self.host},
            )
        except InstanceNotFound:
            await self.scheduler.release(ctx, uuid)
        except UnexpectedDeletingTaskStateError:
            log.info("compute.build.deleted_before_start", instance_uuid=uuid)
            await self._release_deleting(ctx, uuid)
        except UnexpectedTaskStateError as exc:
            log.info("compute.build.stale", instance_uuid=uuid, task_state=exc.kwargs.get("actual"))
        return None

    async def _release_deleting(self, ctx: RequestContext, uuid: str) -> None:
        """Give back what the placement of an instance being deleted took here."""
        try:
            instance = await self.conductor.instance_get(ctx, uuid)
        except InstanceNotFound:
            await self.scheduler.release(ctx, uuid)
            return
        if instance.host == self.host:
            await self.release_resources(ctx, instance)

    async def _save_task(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        task_state: str | None,
        expected: str | None,
        **values: Any,
    ) -> objects.Instance:
        """Save the build's next step; `instance` is the record as the last save left it,
        so the conductor sends it back only if someone else wrote it since (1.2)."""
        return await self.conductor.instance_save(
            ctx, instance, {"task_state": task_state, **values}, expected_task_state=[expected]
        )

    async def _build_resources_and_spawn(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        image_meta: objects.Image | None,
        watch: BuildWatch | None,
    ) -> objects.Instance:
        with _stage(watch, task_states.NETWORKING):
            self.tracker.claim(instance.uuid, instance.flavor)
            # Bound to this host as they are made: no second call to the network.
            ports = await self.network.allocate_for_instance(
                ctx, instance.uuid, list(instance.networks), instance.project_id, host=self.host
            )
        addresses = [_address(p) for p in ports]
        previous, values = task_states.NETWORKING, {"addresses": addresses}
        volumes: list[objects.Volume] = []
        if instance.block_devices:
            with _stage(watch, task_states.BLOCK_DEVICE_MAPPING):
                instance = await self._save_task(
                    ctx,
                    instance,
                    task_states.BLOCK_DEVICE_MAPPING,
                    task_states.NETWORKING,
                    addresses=addresses,
                )
                volumes = await self._prepare_volumes(ctx, instance)
            previous, values = task_states.BLOCK_DEVICE_MAPPING, {}
        # With nothing to map, straight on to spawning: one round trip fewer.
        with _stage(watch, task_states.SPAWNING):
            instance = await self._save_task(
                ctx, instance, task_states.SPAWNING, previous, **values
            )
            # The image the API checked travels in the request spec: no second look-up.
            image, image_path = await self.images.fetch(ctx, instance, known=image_meta)
            await self.driver.spawn(instance, image, image_path, ports, volumes)
            info = await self.driver.get_info(instance)
        with _stage(watch, vm_states.ACTIVE):
            return await self.conductor.instance_save(
                ctx,
                instance,
                {
                    "vm_state": vm_states.ACTIVE,
                    "task_state": None,
                    "power_state": info.state,
                    "launched_at": objects.utcnow(),
                },
                expected_task_state=[task_states.SPAWNING],
                event={"event": BUILD_EVENT, "result": "Success"},
            )

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
        log.warning("compute.build.rescheduling", instance_uuid=instance.uuid, error=str(exc))
        self.tracker.build_result(failed=True)
        await self.release_resources(ctx, instance)
        try:
            await self._retried(  # a second try finds its own save: still a build task
                "hand the build back for rescheduling",
                lambda: self.conductor.instance_update(
                    ctx,
                    instance.uuid,
                    {
                        "task_state": task_states.SCHEDULING,
                        "host": None,
                        "node": None,
                        "addresses": [],
                    },
                    expected_vm_state=[vm_states.BUILDING],
                    expected_task_state=_BUILD_TASK_STATES,
                    event=_failed_step(exc),
                ),
            )
        except NovaLiteError:
            return  # deleted meanwhile (or the bus stayed away: the reconciliation ends it)
        await self.conductor.reschedule_instance(ctx, spec, alternates, attempt, str(exc))

    async def _taken_over(
        self, ctx: RequestContext, instance: objects.Instance, exc: Exception
    ) -> None:
        """Someone else moved the instance on (the build timeout put it in ERROR)."""
        try:
            current = await self.conductor.instance_get(ctx, instance.uuid)
        except InstanceNotFound:
            await self.release_resources(ctx, instance)
            return
        if current.vm_state == vm_states.ERROR:
            log.info("compute.build.taken_over", instance_uuid=instance.uuid)
            await self.release_resources(ctx, instance)
            await self._event_failed(ctx, instance.uuid, exc)
            if current.host == self.host:
                current = await self._retried(
                    "clear the host of a build given up",
                    lambda: self.conductor.instance_update(
                        ctx,
                        instance.uuid,
                        {"host": None, "node": None},
                        expected_task_state=[None],
                        expected_host=self.host,
                    ),
                )
            await self.notifier.error(ctx, "instance.create.error", instance_payload(current))
            return
        await self._abort(ctx, instance, exc)

    async def _abort(self, ctx: RequestContext, instance: objects.Instance, exc: Exception) -> None:
        if isinstance(exc, NovaLiteError):
            log.warning("compute.build.failed", instance_uuid=instance.uuid, error=str(exc))
        else:
            log.exception("compute.build.crashed", instance_uuid=instance.uuid)
        self.tracker.build_result(failed=True)
        await self.release_resources(ctx, instance)
        code = exc.code if isinstance(exc, NovaError) else 500
        fault = objects.InstanceFault(
            code=code, message=_fault_message(exc), details=type(exc).__name__
        )
        instance = await self.record_error(ctx, instance.uuid, fault, event=_failed_step(exc))
        await self.notifier.error(ctx, "instance.create.error", instance_payload(instance))

    async def record_error(
        self,
        ctx: RequestContext,
        uuid: str,
        fault: objects.InstanceFault,
        *,
        event: dict[str, str | None] | None = None,
    ) -> objects.Instance:
        """ERROR with `fault`, and this host off the record, for an instance whose
        resources here were all given back (claim, tracker entry, ports, guest).

        One save (conductor 1.5), so no failure between two saves can leave the
        record naming a host that holds nothing for it; and sent once more if the
        broker left its outcome unknown: the guest is gone, so the record must say
        so, and an ERROR saved twice is saved once.
        """
        return await self._retried(
            "record the failed build",
            lambda: self.conductor.instance_set_error(
                ctx, uuid, fault, event=event, released_host=self.host
            ),
        )

    async def _retried(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        invoker = self.conductor.invoker
        return await retried(invoker.transport, invoker.timeout, what, step)

    async def _event_failed(self, ctx: RequestContext, uuid: str, exc: Exception) -> None:
        """End the build event with `exc` when no save is left to carry it (rare paths)."""
        step = _failed_step(exc)
        try:
            await self.conductor.action_event_finish(
                ctx, uuid, BUILD_EVENT, "Error", step["traceback"]
            )
        except NovaLiteError as error:
            log.warning("compute.action_event_lost", action_event=BUILD_EVENT, error=str(error))

    async def release_resources(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """Undo a build or a whole instance: guest, ports, volumes, claims. Idempotent."""
        await _quietly("destroy guest", self.driver.destroy(instance))
        await _quietly("deallocate ports", self.network.deallocate_for_instance(ctx, instance.uuid))
        await self._release_volumes(ctx, instance)
        self.tracker.drop(instance.uuid)
        await _quietly("release claim", self.scheduler.release(ctx, instance.uuid))

    async def _release_volumes(self, ctx: RequestContext, instance: objects.Instance) -> None:
        for volume in await attached_volumes(self.volume, ctx, instance):
            await _quietly("detach volume", self.volume.detach(ctx, volume.id, instance.uuid))
            bdm = _mapping_for(instance.block_devices, volume.id)
            if bdm is None or bdm.delete_on_termination:
                await _quietly("delete volume", self.volume.delete(ctx, volume.id))


def _fault_message(exc: Exception) -> str:
    """The fault a build given up on shows: the error's own message, but for a call the
    bus failed (its message names message ids, and the client needs only what it meant;
    the event's traceback keeps the whole error)."""
    if isinstance(exc, OUTCOME_UNKNOWN):
        return (
            f"The build was interrupted: a call it made failed on the message bus "
            f"({type(exc).__name__}: a broker outage or restart)."
        )
    return str(exc)


_BUILD_TASK_STATES: list[str | None] = [
    task_states.SCHEDULING,
    task_states.NETWORKING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.SPAWNING,
]


def _failed_step(exc: BaseException) -> dict[str, str | None]:
    """The build event's end with `exc`, for a save to carry."""
    tb = "".join(traceback.format_exception(exc))
    return {"event": BUILD_EVENT, "result": "Error", "traceback": tb}


def _stage(watch: BuildWatch | None, name: str) -> AbstractContextManager[None]:
    """Build stage `name`, timed and traced when the host's telemetry is on."""
    return NO_STAGE if watch is None else watch.stage(name)


def _finished(watch: BuildWatch | None, outcome: str) -> None:
    if watch is not None:
        watch.finished(outcome)


def _stale(instance: objects.Instance, host: str) -> bool:
    """Whether a build request for `instance` is one this host must not act on.

    Another copy of it ran already (the build moved on, or ended), or it was placed
    elsewhere since: a cast sent again by the conductor's reconciliation after a
    broker restart, or redelivered, finds it so. A delete under way is left to the
    usual path, which gives back what the build took.
    """
    if instance.task_state == task_states.DELETING:
        return False
    return (
        instance.vm_state != vm_states.BUILDING
        or instance.task_state != task_states.SCHEDULING
        or instance.host != host
    )


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
