"""Client side of the conductor: what the API and compute hosts call."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable
from typing import Any, ClassVar

from nova_lite import objects, paging
from nova_lite.compute import vm_states
from nova_lite.conductor.instance_changes import apply_values
from nova_lite.context import RequestContext
from nova_lite.rpcapi import RPCAPI

__all__ = ["ConductorAPI"]


class ConductorAPI(RPCAPI):
    """The conductor's RPC API, 1.0 to 1.5.

    1.1: instance_get_all's marker and limit (sent as 1.1 only when paging, so a 1.0
    server still answers every other call). `all_instances` reads every page.
    1.2: instance_save, an instance_update for a caller that holds the record (a
    build's saves after its first): answered with the record only if someone else
    wrote it since. Only `instance_save` is sent as 1.2.
    1.3: instance_get_newest, a page of instances newest first (`newest_instances`:
    under a version cap below 1.3 the whole list is read and the page cut here).
    1.4: instance_update's `action`, the instance action the request starts, recorded
    with the save (one round trip for an API action's claim and its record, not two).
    Only an update with an action is sent as 1.4; under a cap below 1.4 it is an
    update and then an `action_start`.
    1.5: instance_set_error's `released_host`, the host that gave back what the
    instance held there, cleared from the record with the ERROR in one save. Only a
    set_error with it is sent as 1.5; under a cap below 1.5 it is a set_error and
    then an update clearing the host.
    """

    topic: ClassVar[str] = "conductor"
    version: ClassVar[str] = "1.0"  # what a call is sent as unless it needs more
    # What a conductor of this code answers, every part alike (a 1.1 server answers
    # 1.0 calls too): the manager's target and each endpoint part's.
    served_version: ClassVar[str] = "1.5"

    async def flavor_create(self, ctx: RequestContext, flavor: objects.Flavor) -> objects.Flavor:
        result: objects.Flavor = await self.invoker.call(ctx, "flavor_create", flavor=flavor)
        return result

    async def flavor_get(self, ctx: RequestContext, flavor_ref: str) -> objects.Flavor:
        result: objects.Flavor = await self.invoker.call(ctx, "flavor_get", flavor_ref=flavor_ref)
        return result

    async def flavor_list(
        self, ctx: RequestContext, *, is_public: bool | None = True
    ) -> list[objects.Flavor]:
        """The flavors the caller sees (administrators may ask for private ones, or all)."""
        result: list[objects.Flavor] = await self.invoker.call(
            ctx, "flavor_list", is_public=is_public
        )
        return result

    async def quota_get(
        self, ctx: RequestContext, project_id: str, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """A project's (or one of its users') limits and usage: ``{"limits", "usage"}``."""
        result: dict[str, Any] = await self.invoker.call(
            ctx, "quota_get", project_id=project_id, user_id=user_id
        )
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
        marker: str | None = None,
        limit: int | None = None,
    ) -> list[objects.Instance]:
        """The instances (of a project, on a host), oldest first; or a page of them by
        uuid: at most `limit`, those after the instance `marker` (version 1.1)."""
        page = paging.page_arguments(marker, limit)
        invoker = self.invoker.prepare(version="1.1") if page else self.invoker
        result: list[objects.Instance] = await invoker.call(
            ctx,
            "instance_get_all",
            project_id=project_id,
            host=host,
            read_deleted=read_deleted,
            **page,
        )
        return result

    async def all_instances(
        self,
        ctx: RequestContext,
        *,
        project_id: str | None = None,
        host: str | None = None,
        read_deleted: bool = False,
    ) -> list[objects.Instance]:
        """Every instance `instance_get_all` gives, oldest first as it gives them, read by
        uuid `paging.PAGE_SIZE` at a time."""

        def fetch(*, marker: str | None, limit: int) -> Awaitable[list[objects.Instance]]:
            return self.instance_get_all(
                ctx,
                project_id=project_id,
                host=host,
                read_deleted=read_deleted,
                marker=marker,
                limit=limit,
            )

        every = await paging.read_all(fetch, _uuid)
        return sorted(every, key=lambda i: (i.created_at, i.uuid))

    async def newest_instances(
        self,
        ctx: RequestContext,
        *,
        limit: int,
        project_id: str | None = None,
        read_deleted: bool = False,
        marker: str | None = None,
    ) -> list[objects.Instance]:
        """A page of the instances (of a project) newest first, by creation time then
        uuid, descending: at most `limit`, those after the instance `marker`
        (`MarkerNotFound` if no instance of the project has that uuid; a deleted one
        still marks its place). ``instance_get_newest`` (1.3);
        under a version cap below 1.3 the whole list is read and the page cut here,
        with the same answer."""
        invoker = self.invoker.prepare(version="1.3")
        if invoker.can_send_version():
            result: list[objects.Instance] = await invoker.call(
                ctx,
                "instance_get_newest",
                limit=limit,
                project_id=project_id,
                read_deleted=read_deleted,
                marker=marker,
            )
            return result
        every = await self.all_instances(ctx, project_id=project_id, read_deleted=True)
        ordered = every[::-1]  # all_instances gives them oldest first
        if marker is not None:
            ids = [i.uuid for i in ordered]
            if marker not in ids:
                raise paging.marker_not_found(marker, what="instances")
            ordered = ordered[ids.index(marker) + 1 :]
        return [i for i in ordered if read_deleted or not i.deleted][:limit]

    async def instance_update(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        values: dict[str, Any],
        *,
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
        expected_host: str | None = None,
        event: dict[str, str | None] | None = None,
        action: str | None = None,
    ) -> objects.Instance:
        """Save `values`; with expected states (and host), a compare-and-swap. `event`
        (an instance-action event's start or end) is recorded with the save, and so
        is `action` (1.4: the instance action this request starts), both only if the
        save is made."""
        condition: dict[str, Any] = {}
        if expected_host is not None:
            condition["expected_host"] = expected_host
        if event is not None:
            condition["event"] = event
        invoker = self.invoker
        if action is not None and (upgraded := invoker.prepare(version="1.4")).can_send_version():
            invoker, condition["action"] = upgraded, action
        result: objects.Instance = await invoker.call(
            ctx,
            "instance_update",
            instance_uuid=instance_uuid,
            values=values,
            expected_task_state=expected_task_state,
            expected_vm_state=expected_vm_state,
            **condition,
        )
        if action is not None and "action" not in condition:  # a conductor below 1.4
            await self.action_start(ctx, instance_uuid, action)
        return result

    async def instance_save(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        values: dict[str, Any],
        *,
        expected_task_state: list[str | None] | None = None,
        expected_vm_state: list[str] | None = None,
        event: dict[str, str | None] | None = None,
    ) -> objects.Instance:
        """`instance_update` of `instance`, the record as this caller last had it (1.2).

        When nobody else wrote the record since, the conductor answers with the new
        ``updated_at`` only and the saved record is made here from `values`, as the
        conductor made it; otherwise the reply is the record as saved. Under a version
        cap below 1.2 (conductors not yet upgraded) it is an `instance_update`.
        """
        invoker = self.invoker.prepare(version="1.2")
        if not invoker.can_send_version():
            return await self.instance_update(
                ctx,
                instance.uuid,
                values,
                expected_task_state=expected_task_state,
                expected_vm_state=expected_vm_state,
                event=event,
            )
        known = instance.updated_at.isoformat() if instance.updated_at is not None else ""
        condition: dict[str, Any] = {} if event is None else {"event": event}
        reply: dict[str, Any] = await invoker.call(
            ctx,
            "instance_save",
            instance_uuid=instance.uuid,
            values=values,
            known_updated_at=known,
            expected_task_state=expected_task_state,
            expected_vm_state=expected_vm_state,
            **condition,
        )
        saved = reply.get("instance")
        if isinstance(saved, objects.Instance):
            return saved
        updated_at = datetime.datetime.fromisoformat(reply["updated_at"])
        return apply_values(instance, values, updated_at=updated_at)

    async def instance_set_error(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        fault: objects.InstanceFault,
        *,
        event: dict[str, str | None] | None = None,
        released_host: str | None = None,
    ) -> objects.Instance:
        """ERROR with `fault`, unless the instance is being deleted; `event` (the failed
        step's end) is recorded with it. `released_host` (1.5): the caller's host,
        which gave back everything the instance held there; the record stops naming
        it in the same save."""
        extra: dict[str, Any] = {} if event is None else {"event": event}
        invoker = self.invoker.prepare(version="1.5")
        if released_host is not None and invoker.can_send_version():
            extra["released_host"] = released_host
        else:
            invoker = self.invoker
        result: objects.Instance = await invoker.call(
            ctx, "instance_set_error", instance_uuid=instance_uuid, fault=fault, **extra
        )
        stays = released_host is not None and "released_host" not in extra  # a conductor < 1.5
        if stays and result.vm_state == vm_states.ERROR and result.host == released_host:
            result = await self.instance_update(
                ctx, instance_uuid, {"host": None, "node": None}, expected_task_state=[None]
            )
        return result

    async def instance_destroy(self, ctx: RequestContext, instance_uuid: str) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx, "instance_destroy", instance_uuid=instance_uuid
        )
        return result

    # -- instance actions ------------------------------------------------------

    async def action_start(self, ctx: RequestContext, instance_uuid: str, action: str) -> None:
        await self.invoker.call(ctx, "action_start", instance_uuid=instance_uuid, action=action)

    async def actions_start(
        self, ctx: RequestContext, instance_uuids: list[str], action: str
    ) -> None:
        """`action_start` for each instance, in one call."""
        await self.invoker.call(ctx, "actions_start", instance_uuids=instance_uuids, action=action)

    async def action_discard(self, ctx: RequestContext, instance_uuid: str, action: str) -> None:
        """Forget the action this request recorded (the API gave its claim back)."""
        await self.invoker.call(ctx, "action_discard", instance_uuid=instance_uuid, action=action)

    async def action_event_start(
        self, ctx: RequestContext, instance_uuid: str, event: str, host: str
    ) -> None:
        await self.invoker.call(
            ctx, "action_event_start", instance_uuid=instance_uuid, event=event, host=host
        )

    async def action_event_finish(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        await self.invoker.call(
            ctx,
            "action_event_finish",
            instance_uuid=instance_uuid,
            event=event,
            result=result,
            traceback=traceback,
        )

    async def actions_list(
        self, ctx: RequestContext, instance_uuid: str
    ) -> list[objects.InstanceAction]:
        result: list[objects.InstanceAction] = await self.invoker.call(
            ctx, "actions_list", instance_uuid=instance_uuid
        )
        return result

    # -- migrations ------------------------------------------------------------

    async def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        flavor: objects.Flavor,
        *,
        host: str | None = None,
    ) -> None:
        """Resize to `flavor`, or (the same flavor) cold-migrate, to `host` if given."""
        await self.invoker.cast(
            ctx, "migrate_server", instance_uuid=instance_uuid, flavor=flavor, host=host
        )

    async def live_migrate_instance(
        self, ctx: RequestContext, instance_uuid: str, *, host: str | None = None
    ) -> None:
        """Live-migrate the instance (to `host` if given, else where the scheduler picks)."""
        await self.invoker.cast(
            ctx, "live_migrate_instance", instance_uuid=instance_uuid, host=host
        )

    async def unshelve_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        await self.invoker.cast(ctx, "unshelve_instance", instance_uuid=instance_uuid)

    async def migration_get(self, ctx: RequestContext, migration_uuid: str) -> objects.Migration:
        result: objects.Migration = await self.invoker.call(
            ctx, "migration_get", migration_uuid=migration_uuid
        )
        return result

    async def migration_update(
        self,
        ctx: RequestContext,
        migration_uuid: str,
        *,
        status: str | None = None,
        dest_host: str | None = None,
    ) -> objects.Migration:
        result: objects.Migration = await self.invoker.call(
            ctx,
            "migration_update",
            migration_uuid=migration_uuid,
            status=status,
            dest_host=dest_host,
        )
        return result

    async def migration_for_instance(
        self, ctx: RequestContext, instance_uuid: str
    ) -> objects.Migration:
        result: objects.Migration = await self.invoker.call(
            ctx, "migration_for_instance", instance_uuid=instance_uuid
        )
        return result

    async def migration_list(
        self,
        ctx: RequestContext,
        *,
        instance_uuid: str | None = None,
        statuses: list[str] | None = None,
    ) -> list[objects.Migration]:
        """Migrations of one instance (or all) in `statuses` (or any), oldest first."""
        result: list[objects.Migration] = await self.invoker.call(
            ctx, "migration_list", instance_uuid=instance_uuid, statuses=statuses
        )
        return result

    # -- a server's metadata and tags, edited in place; key pairs ------------------

    async def instance_edit_metadata(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        items: dict[str, str],
        remove: list[str],
        *,
        replace: bool = False,
    ) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx,
            "instance_edit_metadata",
            instance_uuid=instance_uuid,
            items=items,
            remove=remove,
            replace=replace,
        )
        return result

    async def instance_edit_tags(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        add: list[str],
        remove: list[str],
        *,
        replace: bool = False,
    ) -> objects.Instance:
        result: objects.Instance = await self.invoker.call(
            ctx,
            "instance_edit_tags",
            instance_uuid=instance_uuid,
            add=add,
            remove=remove,
            replace=replace,
        )
        return result

    async def keypair_create(
        self, ctx: RequestContext, keypair: objects.KeyPair
    ) -> objects.KeyPair:
        result: objects.KeyPair = await self.invoker.call(ctx, "keypair_create", keypair=keypair)
        return result

    async def keypair_get(self, ctx: RequestContext, user_id: str, name: str) -> objects.KeyPair:
        result: objects.KeyPair = await self.invoker.call(
            ctx, "keypair_get", user_id=user_id, name=name
        )
        return result

    async def keypair_list(
        self,
        ctx: RequestContext,
        user_id: str,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[objects.KeyPair]:
        result: list[objects.KeyPair] = await self.invoker.call(
            ctx, "keypair_list", user_id=user_id, limit=limit, marker=marker
        )
        return result

    async def keypair_delete(self, ctx: RequestContext, user_id: str, name: str) -> None:
        await self.invoker.call(ctx, "keypair_delete", user_id=user_id, name=name)

    # -- admin compute: flavors' management and access ------------------------------

    async def flavor_update(
        self,
        ctx: RequestContext,
        flavorid: str,
        *,
        description: str | None = None,
        extra_specs: dict[str, str] | None = None,
    ) -> objects.Flavor:
        result: objects.Flavor = await self.invoker.call(
            ctx,
            "flavor_update",
            flavorid=flavorid,
            description=description,
            extra_specs=extra_specs,
        )
        return result

    async def flavor_delete(self, ctx: RequestContext, flavorid: str) -> None:
        await self.invoker.call(ctx, "flavor_delete", flavorid=flavorid)

    async def flavor_access_list(self, ctx: RequestContext, flavorid: str) -> list[str]:
        result: list[str] = await self.invoker.call(ctx, "flavor_access_list", flavorid=flavorid)
        return result

    async def flavor_access_add(
        self, ctx: RequestContext, flavorid: str, project_id: str
    ) -> list[str]:
        result: list[str] = await self.invoker.call(
            ctx, "flavor_access_add", flavorid=flavorid, project_id=project_id
        )
        return result

    async def flavor_access_remove(
        self, ctx: RequestContext, flavorid: str, project_id: str
    ) -> list[str]:
        result: list[str] = await self.invoker.call(
            ctx, "flavor_access_remove", flavorid=flavorid, project_id=project_id
        )
        return result

    # -- admin compute: quotas and quota classes ----------------------------------------

    async def quota_check(
        self,
        ctx: RequestContext,
        project_id: str,
        user_id: str | None,
        wanted: dict[str, int],
    ) -> None:
        """`QuotaExceeded` unless `wanted` more of each resource fits the project's limits."""
        await self.invoker.call(
            ctx, "quota_check", project_id=project_id, user_id=user_id, wanted=wanted
        )

    async def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        result: dict[str, int] = await self.invoker.call(ctx, "quota_defaults")
        return result

    async def quota_update(
        self,
        ctx: RequestContext,
        project_id: str,
        limits: dict[str, int],
        *,
        user_id: str | None = None,
        force: bool = False,
    ) -> dict[str, int]:
        result: dict[str, int] = await self.invoker.call(
            ctx,
            "quota_update",
            project_id=project_id,
            limits=limits,
            user_id=user_id,
            force=force,
        )
        return result

    async def quota_delete(
        self, ctx: RequestContext, project_id: str, *, user_id: str | None = None
    ) -> None:
        await self.invoker.call(ctx, "quota_delete", project_id=project_id, user_id=user_id)

    async def quota_class_get(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_class_get", class_name=class_name
        )
        return result

    async def quota_class_update(
        self, ctx: RequestContext, class_name: str, limits: dict[str, int]
    ) -> dict[str, int]:
        result: dict[str, int] = await self.invoker.call(
            ctx, "quota_class_update", class_name=class_name, limits=limits
        )
        return result

    # -- admin compute: server groups ----------------------------------------------------

    async def server_group_create(
        self, ctx: RequestContext, group: objects.ServerGroup
    ) -> objects.ServerGroup:
        result: objects.ServerGroup = await self.invoker.call(
            ctx, "server_group_create", group=group
        )
        return result

    async def server_group_get(self, ctx: RequestContext, uuid: str) -> objects.ServerGroup:
        result: objects.ServerGroup = await self.invoker.call(ctx, "server_group_get", uuid=uuid)
        return result

    async def server_group_list(
        self,
        ctx: RequestContext,
        *,
        project_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[objects.ServerGroup]:
        result: list[objects.ServerGroup] = await self.invoker.call(
            ctx, "server_group_list", project_id=project_id, limit=limit, offset=offset
        )
        return result

    async def server_group_delete(self, ctx: RequestContext, uuid: str) -> None:
        await self.invoker.call(ctx, "server_group_delete", uuid=uuid)

    # -- admin compute: host aggregates and availability zones ---------------------------

    async def aggregate_create(
        self, ctx: RequestContext, name: str, *, availability_zone: str | None = None
    ) -> objects.Aggregate:
        result: objects.Aggregate = await self.invoker.call(
            ctx, "aggregate_create", name=name, availability_zone=availability_zone
        )
        return result

    async def aggregate_get(self, ctx: RequestContext, aggregate_id: int) -> objects.Aggregate:
        result: objects.Aggregate = await self.invoker.call(
            ctx, "aggregate_get", aggregate_id=aggregate_id
        )
        return result

    async def aggregate_list(self, ctx: RequestContext) -> list[objects.Aggregate]:
        result: list[objects.Aggregate] = await self.invoker.call(ctx, "aggregate_list")
        return result

    async def aggregate_update(
        self,
        ctx: RequestContext,
        aggregate_id: int,
        *,
        name: str | None = None,
        metadata: dict[str, str | None] | None = None,
    ) -> objects.Aggregate:
        result: objects.Aggregate = await self.invoker.call(
            ctx, "aggregate_update", aggregate_id=aggregate_id, name=name, metadata=metadata
        )
        return result

    async def aggregate_add_host(
        self, ctx: RequestContext, aggregate_id: int, host: str
    ) -> objects.Aggregate:
        result: objects.Aggregate = await self.invoker.call(
            ctx, "aggregate_add_host", aggregate_id=aggregate_id, host=host
        )
        return result

    async def aggregate_remove_host(
        self, ctx: RequestContext, aggregate_id: int, host: str
    ) -> objects.Aggregate:
        result: objects.Aggregate = await self.invoker.call(
            ctx, "aggregate_remove_host", aggregate_id=aggregate_id, host=host
        )
        return result

    async def aggregate_delete(self, ctx: RequestContext, aggregate_id: int) -> None:
        await self.invoker.call(ctx, "aggregate_delete", aggregate_id=aggregate_id)

    async def host_zones(self, ctx: RequestContext) -> dict[str, str]:
        """The availability zone of every host an aggregate puts in one."""
        result: dict[str, str] = await self.invoker.call(ctx, "host_zones")
        return result


def _uuid(instance: objects.Instance) -> str:
    return instance.uuid
