"""The conductor's endpoints for instance records.

Compute hosts never touch a database; they read and save instances through these
endpoints, over the `InstanceStore`. A save that changes what the API shows of the
server's state is announced as an ``instance.update`` notification (the API's waiters
wake on it; `_seen_to_change`), and so is every save with ``[notifications]
notify_on_state_change = "vm_and_task_state"``. The build and migration tasks save
instances through the same methods, so they announce too.

A save may carry an instance-action event's start or end (`EventStep`): a build
records ``compute__do_build_and_run_instance`` on saves it makes anyway, so the
events cost no message of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from nova_lite import objects, paging
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.notification_payloads import instance_payload
from nova_lite.compute.status import status_from_state
from nova_lite.conductor.actions import ActionStore, EventStep, event_step
from nova_lite.conductor.instance_store import ANY, InstanceStore
from nova_lite.conductor.rpcapi import ConductorAPI
from nova_lite.context import RequestContext
from nova_lite.notifications import Notifier
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint

__all__ = ["InstanceRecords"]


class InstanceRecords:
    """The conductor endpoints that read and save instances."""

    # 1.1: instance_get_all pages (only a paged instance_get_all is sent as 1.1).
    # 1.2: instance_save (a save answered without the record its caller holds).
    # 1.4: instance_update's action (an API action's record made with its claim).
    # 1.5: instance_set_error's released_host (the host off the record in the ERROR's save).
    target: ClassVar[Target] = Target(version=ConductorAPI.served_version)

    def __init__(
        self,
        store: InstanceStore,
        notifier: Notifier,
        *,
        on_saved: Callable[[objects.Instance], None] = lambda instance: None,
        actions: ActionStore | None = None,
        every_save: bool = False,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.on_saved = on_saved  # told of every instance saved here (the build admission)
        self.actions = actions  # where the events saves carry are written
        # [notifications] notify_on_state_change = "vm_and_task_state": announce every
        # save; otherwise only those `_seen_to_change`.
        self.every_save = every_save

    def __repr__(self) -> str:
        return "<InstanceRecords>"

    # -- instance records --------------------------------------------------

    @endpoint
    async def create_instances(
        self, ctx: RequestContext, instances: list[objects.Instance]
    ) -> list[objects.Instance]:
        """Record new instances in BUILD, all or none, within the project's quota.

        Idempotent: the same instances again (a create retried after a broker outage
        left its outcome unknown) return the records made the first time.
        """
        stored, new = await self.store.create(instances)
        for instance in stored if new else ():
            await self.notifier.info(ctx, "instance.update", instance_payload(instance))
        return stored

    @endpoint
    async def instance_get(
        self, ctx: RequestContext, instance_uuid: str, read_deleted: bool = False
    ) -> objects.Instance:
        return await self.store.get(instance_uuid, read_deleted=read_deleted)

    @endpoint
    async def instance_get_all(
        self,
        ctx: RequestContext,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
        marker: str | None = None,
        limit: int | None = None,
    ) -> list[objects.Instance]:
        """The instances (of a project, on a host), oldest first; or, with `limit` or
        `marker` (1.1), a page of them by uuid (every instance of a large cloud in one
        reply is over the 4 MiB message limit)."""
        size = paging.check_limit(limit, what="instances", marker=marker)
        if size is None:
            return await self.store.list(
                project_id=project_id, host=host, read_deleted=read_deleted
            )
        return await self.store.page(
            marker=marker, limit=size, project_id=project_id, host=host, read_deleted=read_deleted
        )

    @endpoint
    async def instance_get_newest(
        self,
        ctx: RequestContext,
        limit: int,
        project_id: str | None = None,
        read_deleted: bool = False,
        marker: str | None = None,
    ) -> list[objects.Instance]:
        """A page of the instances (of a project) newest first, by creation time and
        uuid: at most `limit`, those after the instance `marker` (1.3). What GET
        /servers lists: a page read off an index, not every server of the project
        (for an admin's all_tenants, of the cloud) read and sorted per request."""
        size = paging.check_limit(limit, what="instances", marker=marker) or paging.MAX_LIMIT
        return await self.store.newest(
            marker=marker, limit=size, project_id=project_id, read_deleted=read_deleted
        )

    @endpoint
    async def instance_update(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
        expected_host: str | None = None,
        event: EventStep | None = None,
        action: str | None = None,
    ) -> objects.Instance:
        """Save `values`, if the instance is in one of the expected states (and on
        `expected_host`, when given); then record `event`, and `action` (1.4: the
        instance action the request starts), only if the save was made."""
        instance, _before = await self._save(
            ctx, instance_uuid, values, expected_task_state, expected_vm_state, expected_host,
            event, action,
        )  # fmt: skip
        return instance

    @endpoint
    async def instance_save(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        known_updated_at: str,
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
        expected_host: str | None = None,
        event: EventStep | None = None,
    ) -> dict[str, Any]:
        """`instance_update` (1.2) for a caller that holds the record as it was when
        its ``updated_at`` was `known_updated_at` (ISO 8601).

        If the values were applied to that very record, nobody wrote it in between:
        the reply is only the save's ``{"updated_at": ...}``, from which the caller
        makes the saved record itself (`apply_values`); otherwise it is the record as
        saved, ``{"instance": ...}``. A build's saves after its first are answered
        so: the whole instance is not sent back to a host that has it.
        """
        instance, before = await self._save(
            ctx, instance_uuid, values, expected_task_state, expected_vm_state, expected_host, event
        )
        if (
            before is not None
            and before.updated_at is not None
            and instance.updated_at is not None  # every save sets it
            and before.updated_at.isoformat() == known_updated_at
        ):
            return {"updated_at": instance.updated_at.isoformat()}
        return {"instance": instance}

    async def _save(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        expected_task_state: list[str | None] | None,
        expected_vm_state: list[str] | None,
        expected_host: str | None,
        event: EventStep | None,
        action: str | None = None,
    ) -> tuple[objects.Instance, objects.Instance | None]:
        """The saved record, and the one the values were applied to."""
        step = None if event is None else event_step(event)
        applied_to: list[objects.Instance] = []
        # The save and its event wait for one commit together (each is still its own
        # statement: an event that cannot be written does not undo the save).
        async with self.store.db.batch():
            instance = await self.store.update(
                instance_uuid,
                values,
                expected_task_state=ANY if expected_task_state is None else expected_task_state,
                expected_vm_state=ANY if expected_vm_state is None else expected_vm_state,
                expected_host=ANY if expected_host is None else expected_host,
                seen=applied_to.append,
            )
            # The admission hears of the save before the event is written: once the save
            # is visible (a build ACTIVE), its slot must already be free.
            self.on_saved(instance)
            if action is not None and self.actions is not None:
                await self.actions.start(ctx, instance_uuid, action)
            await self._record(ctx, instance_uuid, step)
        before = applied_to[-1] if applied_to else None
        if self.every_save or _seen_to_change(before, instance):
            await self._notify(ctx, instance)
        return instance, before

    @endpoint
    async def instance_set_error(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        fault: objects.InstanceFault,
        event: EventStep | None = None,
        released_host: str | None = None,
    ) -> objects.Instance:
        """Put the instance in ERROR with `fault`, unless it is being deleted; record
        `event` either way (the step that failed has ended).

        One compare-and-swap on the record as it is when the save is written: a save
        that lands meanwhile (a build step whose reply the broker lost, carried out
        after all) is read again and overruled, never left to win because the
        record was read before it. `released_host` (1.5): the host that gave back
        everything the instance held there (claim, tracker entry, guest) is cleared
        from the record in the same save, if the record still names it, so no
        failure between two saves leaves an ERROR instance on a host that holds
        nothing for it.
        """
        step = None if event is None else event_step(event)
        values: dict[str, Any] = {"vm_state": vm_states.ERROR, "task_state": None, "fault": fault}

        def error(current: objects.Instance) -> dict[str, Any]:
            if current.task_state == task_states.DELETING:
                raise _BeingDeleted
            if released_host is not None and current.host == released_host:
                return {**values, "host": None, "node": None}
            return values

        try:
            async with self.store.db.batch():  # the save and its event: one commit
                await self._record(ctx, instance_uuid, step)
                instance = await self.store.edit(instance_uuid, error)
        except _BeingDeleted:
            return await self.store.get(instance_uuid)
        await self._announce(ctx, instance)
        return instance

    @endpoint
    async def instance_destroy(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance:
        """Mark the instance deleted (its quota is released with it)."""
        instance = await self.store.destroy(instance_uuid)
        await self._announce(ctx, instance)
        return instance

    async def _record(self, ctx: RequestContext, uuid: str, step: EventStep | None) -> None:
        if step is not None and self.actions is not None:
            await self.actions.record(ctx, uuid, step)

    async def _announce(self, ctx: RequestContext, instance: objects.Instance) -> None:
        self.on_saved(instance)
        await self._notify(ctx, instance)

    async def _notify(self, ctx: RequestContext, instance: objects.Instance) -> None:
        await self.notifier.info(ctx, "instance.update", instance_payload(instance))


def _seen_to_change(before: objects.Instance | None, after: objects.Instance) -> bool:
    """Whether a save changed what a client of the API can see of the server's state:
    its vm_state, its status, or whether a task runs (what `wait_for` waits on).

    `before` is the record the save was applied to; without one (never, for a save
    made) the save is announced.
    """
    if before is None or before.vm_state != after.vm_state:
        return True
    if (before.task_state is None) != (after.task_state is None):
        return True
    return status_from_state(before.vm_state, before.task_state) != status_from_state(
        after.vm_state, after.task_state
    )


class _BeingDeleted(Exception):
    """Refuses an ERROR save: the instance is being deleted (the delete wins)."""
