"""Servers through the API: validate, authorise, record, schedule; read; delete.

`create` is steps 1-6 of the seed's flow: the token was checked by the session, the
policy and the input are checked here, the conductor records the instances in BUILD
within the project's quota (one transaction), and the conductor is cast to schedule
and build them. The call returns at once; `wait_for` awaits a status.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from nova_lite import clock, objects, validators
from nova_lite.api import policy
from nova_lite.api import security_groups as requested_groups
from nova_lite.api.actions import ServerActions
from nova_lite.api.creates import instance_uuids
from nova_lite.api.placement import Placement, placement_for
from nova_lite.api.server_fields import CreateFields
from nova_lite.api.server_records import ServerRecords
from nova_lite.api.views import Server
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.allowed_states import check_instance_state
from nova_lite.conductor.instance_edits import MAX_SERVER_META
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    ImageNotFound,
    InstanceNotFound,
    InstanceNotReady,
    Invalid,
    NetworkNotFound,
    NovaLiteError,
    QuotaExceeded,
    WaitTimeout,
)
from nova_lite.rpc.retry import retried

if TYPE_CHECKING:
    from nova_lite.api.client import Session

__all__ = ["MAX_SERVER_META", "Servers"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

TERMINAL = frozenset({"ERROR"})
# Statuses that only exist while a task runs: waiting for them does not wait for idle.
TRANSITIONAL = frozenset(
    {
        "BUILD",
        "REBOOT",
        "HARD_REBOOT",
        "PASSWORD",
        "REBUILD",
        "RESIZE",
        "REVERT_RESIZE",
        "MIGRATING",
    }
)


def _check_count(count: object, maximum: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= maximum:
        raise Invalid(f"count must be an integer from 1 to {maximum}, not {count!r}.")
    return count


MAX_META_LENGTH = 255  # a metadata key (1-255 characters) or value (0-255)


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    """QuotaExceeded (403) past `MAX_SERVER_META` items; Invalid (400) for a bad key or value."""
    if len(metadata) > MAX_SERVER_META:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: {len(metadata)} metadata items are more than "
            f"the {MAX_SERVER_META} allowed (maxServerMeta).",
            resource="metadata_items",
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_META_LENGTH:
            raise Invalid(f"A metadata key must be 1 to {MAX_META_LENGTH} characters: {key!r:.80}.")
        if not isinstance(value, str) or len(value) > MAX_META_LENGTH:
            raise Invalid(
                f"Metadata {key!r:.80} must have a string value of at most {MAX_META_LENGTH} "
                f"characters, not {value!r:.80}."
            )


class Servers(ServerActions, ServerRecords):
    """``session.servers``: create, get, list, delete, wait for and act on servers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.api = session.api

    async def create(
        self,
        name: str,
        *,
        flavor: str,
        image: str | None = None,
        networks: Sequence[str] | None = None,
        count: int = 1,
        availability_zone: str | None = None,
        block_devices: Sequence[objects.BlockDevice] = (),
        scheduler_hints: Mapping[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        fields: CreateFields | None = None,
        security_groups: Sequence[str] | None = None,
    ) -> list[Server]:
        """Start building `count` servers; they are returned at once, in BUILD.

        `fields` are the rest of what Nova's create takes (description, key pair,
        access addresses, disk config, user data, tags). Their ports get the
        `security_groups` named (by name or id), or the project's default group.
        """
        ctx = await self.session.context()
        self.api.authorize(ctx, "create", ctx.project_id)
        validators.server_name(name)
        _check_count(count, self.api.config.api.max_count)
        _check_metadata(metadata or {})
        if networks is not None:  # a str is a Sequence too, of one-letter "ids"
            networks = validators.text_list("networks", networks)
        if networks is not None and len(networks) > self.api.config.api.max_networks_per_server:
            raise Invalid(
                f"A server may ask for at most {self.api.config.api.max_networks_per_server} "
                f"networks ([api] max_networks_per_server), not {len(networks)}."
            )
        flavor_obj = await self.api.conductor.flavor_get(ctx, flavor)
        image_obj = await self._check_image(ctx, image, flavor_obj, block_devices)
        network_ids = await self._resolve_networks(ctx, networks)
        extra = await self._instance_fields(ctx, fields)
        await self._check_port_quota(ctx, count * len(network_ids))
        group_ids = await requested_groups.resolve(self.api.network, ctx, security_groups)
        hints = dict(scheduler_hints or {})
        placement = await placement_for(self.api, ctx, hints, availability_zone)
        if placement.group is not None:
            hints["group"] = placement.group.uuid
        request = {
            "name": name,
            "flavor": flavor,
            "image": image,
            "networks": networks,
            "count": count,
            "availability_zone": availability_zone,
            "block_devices": list(block_devices),
            "scheduler_hints": hints,
            "metadata": metadata,
        }
        uuids = instance_uuids(ctx, request, count)
        reservation = {"reservation_id": f"r-{uuids[0][:8]}"}  # one per create, as in Nova
        instances = [
            objects.Instance(
                uuid=uuids[i],
                display_name=name if count == 1 else f"{name}-{i + 1}",
                project_id=ctx.project_id or "",
                user_id=ctx.user_id or "",
                flavor=flavor_obj,
                image_ref=image_obj.id if image_obj else None,
                vm_state=vm_states.BUILDING,
                task_state=task_states.SCHEDULING,
                availability_zone=availability_zone,
                networks=tuple(network_ids),
                block_devices=tuple(block_devices),
                metadata=dict(metadata or {}),
                system_metadata=dict(reservation),
                scheduler_hints=hints,
                **extra,
            )
            for i in range(count)
        ]
        specs = [_request_spec(i, image_obj, hints, placement) for i in instances]
        created = await self._create_step(
            "record the servers", lambda: self.api.conductor.create_instances(ctx, instances)
        )
        try:
            uuids_made = [i.uuid for i in created]
            await requested_groups.record(self.api.network, ctx, uuids_made, group_ids)
            await self._start_created(ctx, instances, created, specs)
        except NovaLiteError:
            await self._undo_create(ctx, created)
            raise
        return [Server.from_instance(i, show_host=ctx.is_admin) for i in created]

    async def _create_step(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """A step of a create, sent once more if a broker outage left it unknown."""
        return await retried(self.api.transport, self.api.config.rpc.timeout, what, step)

    async def _start_created(
        self,
        ctx: RequestContext,
        asked: Sequence[objects.Instance],
        created: Sequence[objects.Instance],
        specs: Sequence[objects.RequestSpec],
    ) -> None:
        """Record the create action and have the servers placed (see `api/creates.py`)."""
        conductor = self.api.conductor
        if [i.created_at for i in created] == [i.created_at for i in asked]:  # not a retry
            made = [i.uuid for i in created]
            await self._create_step(
                "record the create actions",
                functools.partial(conductor.actions_start, ctx, made, "create"),
            )
        log.info(
            "api.servers.create",
            request_id=ctx.request_id,
            instance_uuids=[i.uuid for i in created],
            flavor=created[0].flavor.name,
        )
        await self._create_step(
            "have the servers placed",
            functools.partial(conductor.schedule_and_build_instances, ctx, list(specs)),
        )

    async def _undo_create(self, ctx: RequestContext, created: Sequence[objects.Instance]) -> None:
        """Delete the servers of a create that failed after recording them (best effort)."""
        for instance in created:
            try:
                await self.delete(instance.uuid)
            except NovaLiteError as exc:
                log.warning("api.create.undo_failed", instance_uuid=instance.uuid, error=str(exc))

    async def _check_image(
        self,
        ctx: RequestContext,
        image: str | None,
        flavor: objects.Flavor,
        block_devices: Sequence[objects.BlockDevice],
    ) -> objects.Image | None:
        if image is None:
            boot = next((bdm for bdm in block_devices if bdm.boot_index == 0), None)
            if boot is None:
                raise Invalid("An image or a block device with boot_index 0 is required.")
            if boot.source_type == "volume" and boot.volume_id is not None:
                volume = await self.api.volume.get(ctx, boot.volume_id)
                if not volume.bootable:
                    raise Invalid(f"Block Device {volume.id} is not bootable.")
            return None
        found = await self._find_image(ctx, image)
        if found.status != "active":
            raise Invalid(f"Image {found.id} is not active (status {found.status}).")
        if found.min_ram > flavor.memory_mb:
            raise Invalid(f"Flavor {flavor.name}'s memory is too small for image {found.id}.")
        if flavor.root_gb and found.min_disk > flavor.root_gb:
            raise Invalid(f"Flavor {flavor.name}'s disk is too small for image {found.id}.")
        return found

    async def _find_image(self, ctx: RequestContext, ref: str) -> objects.Image:
        """The image with id `ref`, or else the one visible image named `ref`."""
        try:
            return await self.api.image.get(ctx, ref)
        except ImageNotFound:
            named = [i for i in await self.api.image.list(ctx) if i.name == ref]
            if len(named) == 1:
                return named[0]
            if named:
                raise Invalid(f"Several images are named {ref!r}; use an image id.") from None
            raise

    async def _resolve_networks(
        self, ctx: RequestContext, requested: Sequence[str] | None
    ) -> list[str]:
        visible = await self.api.network.list_networks(ctx)
        if requested is None:  # Nova's choice: the project's own networks and shared ones
            usable = [n for n in visible if n.shared or n.project_id == ctx.project_id]
            visible = [n for n in usable if n.shared or not n.external]
            if len(visible) > 1:
                raise Invalid(
                    "Multiple possible networks found, use a Network ID to be more specific."
                )
            return [n.id for n in visible]
        by_ref = {n.id: n for n in visible} | {n.name: n for n in visible}
        missing = [ref for ref in requested if ref not in by_ref]
        if missing:
            raise NetworkNotFound(f"Network {missing[0]} could not be found.")
        return [by_ref[ref].id for ref in requested]

    async def _visible_instance(
        self, ctx: RequestContext, server_id: str, *, read_deleted: bool = False
    ) -> objects.Instance:
        instance = await self.api.conductor.instance_get(ctx, server_id, read_deleted=read_deleted)
        if not policy.can_see(ctx, instance.project_id):
            raise InstanceNotFound(f"Instance {server_id} could not be found.")
        return instance

    async def get(self, server_id: str) -> Server:
        """One server; another project's is reported as not found."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        return Server.from_instance(instance, show_host=ctx.is_admin)

    async def list(self, *, all_projects: bool = False) -> list[Server]:
        """The project's servers; every project's for an admin asking for all."""
        ctx = await self.session.context()
        project = None if (all_projects and ctx.is_admin) else ctx.project_id
        instances = await self.api.conductor.all_instances(ctx, project_id=project)
        return [Server.from_instance(i, show_host=ctx.is_admin) for i in instances]

    async def delete(self, server_id: str, *, action: str = "delete") -> None:
        """Delete a server in any state; it goes to DELETED once its host has cleaned up.

        Any number of times: a server already being deleted has its host asked again
        (the teardown is idempotent, and a host that lost the first request, or a
        task left ``deleting`` by a crash, is unstuck so). A delete the host cannot
        be sent is done without it, as for a host that is down.
        """
        ctx = await self.session.context()
        before = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, action, before.project_id)
        check_instance_state(ctx, before, action)
        # The mark and the action's record in one round trip (conductor 1.4).
        instance = await self.api.conductor.instance_update(
            ctx, server_id, {"task_state": task_states.DELETING}, action=action
        )
        # The host as marked, not as read: a build placed in between is its host's to
        # undo (placement needs task_state scheduling, so none is placed after the mark).
        host_up = instance.host is not None and await self._host_is_up(ctx, instance.host)
        await self._drop_shelved_image(ctx, instance)
        await self._terminate(ctx, instance, host_up=host_up)
        await self._confirm_resize_on_deleting(ctx, before)

    async def _terminate(
        self, ctx: RequestContext, instance: objects.Instance, *, host_up: bool
    ) -> None:
        """Have the host delete the instance, or delete it here if no host can."""
        if instance.host is not None and host_up:
            try:
                # The record as marked deleting goes with the cast (compute 1.1): the
                # host does not read it again.
                await self.api.compute.terminate_instance(
                    ctx, instance.host, instance.uuid, instance=instance
                )
                return
            except NovaLiteError as exc:
                log.warning("api.terminate_unsent", instance_uuid=instance.uuid, error=str(exc))
        await self._local_delete(ctx, instance)

    async def _host_is_up(self, ctx: RequestContext, host: str) -> bool:
        return await self.api.scheduler.host_is_up(ctx, host)

    async def _drop_shelved_image(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """A deleted server's shelve snapshot goes with it (whoever does the delete)."""
        shelved_image = instance.system_metadata.get("shelved_image_id")
        if shelved_image:
            with contextlib.suppress(NovaLiteError):
                await self.api.image.delete(ctx, shelved_image)

    async def _local_delete(self, ctx: RequestContext, instance: objects.Instance) -> None:
        """Delete without the compute host (never scheduled, or its service is down)."""
        await self._drop_shelved_image(ctx, instance)
        await self.api.network.deallocate_for_instance(ctx, instance.uuid)
        await self.api.scheduler.release(ctx, instance.uuid)
        for mapping in instance.block_devices:
            if mapping.volume_id is not None:
                with contextlib.suppress(NovaLiteError):
                    await self.api.volume.detach(ctx, mapping.volume_id, instance.uuid)
        await self.api.conductor.instance_destroy(ctx, instance.uuid)

    async def wait_for(
        self, server_id: str, status: str | Iterable[str] = "ACTIVE", *, timeout: float = 300.0
    ) -> Server:
        """Wait until the server shows `status` (or ERROR) and return it.

        A stable status counts only once no task is in progress (a server that is
        ACTIVE while its snapshot runs is not done yet). ``"DELETED"`` waits for the
        server to be gone, even from ERROR. Driven by notifications: no polling.
        Raises `WaitTimeout` if the status is not reached in time.
        """
        wanted = {status} if isinstance(status, str) else set(status)
        # A server being deleted may still show ERROR: only DELETED ends that wait.
        done = wanted if "DELETED" in wanted else wanted | TERMINAL
        await self.api.watcher.ensure_started()
        deadline = clock.monotonic() + timeout
        while True:
            event = self.api.watcher.register(server_id)
            try:
                server = await self._current(server_id, wanted)
                if server is not None and _reached(server, done):
                    return server
                remaining = deadline - clock.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(
                        f"Server {server_id} did not reach {sorted(wanted)} within "
                        f"{timeout:g}s (last status {server.status if server else 'DELETED'})."
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                self.api.watcher.unregister(server_id, event)

    async def _current(self, server_id: str, wanted: set[str]) -> Server | None:
        try:
            return await self.get(server_id)
        except InstanceNotFound:
            if "DELETED" in wanted:
                ctx = await self.session.context()
                deleted = await self.api.conductor.instance_get(ctx, server_id, read_deleted=True)
                return Server.from_instance(deleted, show_host=ctx.is_admin)
            raise

    async def console_output(self, server_id: str) -> str:
        """The tail of the server's serial console."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, "console_output", instance.project_id)
        if instance.host is None:
            raise InstanceNotReady(
                f"Instance {server_id} is not ready: it is on no host (not built yet, "
                "or shelved offloaded), so it has no console."
            )
        return await self.api.compute.get_console_output(ctx, instance.host, server_id)


def _reached(server: Server, done: set[str]) -> bool:
    """Whether `server` shows one of `done`, with no task running unless transitional."""
    if server.status not in done:
        return False
    return server.task_state is None or server.status in TRANSITIONAL


def _request_spec(
    instance: objects.Instance,
    image: objects.Image | None,
    hints: Mapping[str, Any],
    placement: Placement,
) -> objects.RequestSpec:
    return objects.RequestSpec(
        instance_uuid=instance.uuid,
        project_id=instance.project_id,
        flavor=instance.flavor,
        image=image,
        availability_zone=instance.availability_zone,
        scheduler_hints={k: v for k, v in hints.items() if k != "group"},
        **placement.spec_fields(),
    )
