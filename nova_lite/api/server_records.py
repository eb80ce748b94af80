"""What ``session.servers`` changes in a server's record, not on its host.

A rename, a description, the access addresses and the disk config (``PUT
/servers/{id}``), the metadata (``/metadata``), the tags (``/tags``, microversion
2.26) and the password the guest posted (``os-server-password``) live only in the
conductor's record: no task is claimed and no host is asked. Each operation checks
its upstream policy rule against the owning project, then the states Nova allows it
in (metadata: a launched server, no task running, not locked for non-admins; tags:
the vm_state only), then saves. Metadata and tag edits are merged into the record
by the conductor (`conductor.instance_edits`), so concurrent edits lose nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nova_lite import objects, validators
from nova_lite.api import policy
from nova_lite.api.server_fields import (
    CreateFields,
    access_ip,
    check_description,
    check_items,
    check_tag,
    check_user_data,
    checked_metadata,
)
from nova_lite.compute import vm_states as vm
from nova_lite.compute.allowed_states import ActionRule, check_rule
from nova_lite.conductor.instance_edits import MAX_TAGS
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    InstanceNotFound,
    Invalid,
    KeypairNotFound,
    NotFound,
    NovaLiteError,
    QuotaExceeded,
)

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI, Session

__all__ = ["ServerRecords"]

_EDITABLE = frozenset({vm.ACTIVE, vm.PAUSED, vm.SUSPENDED, vm.STOPPED})
METADATA_RULE = ActionRule(action="update_metadata", vm_states=_EDITABLE)
TAGS_RULE = ActionRule(
    action="update_tags", vm_states=_EDITABLE, task_states=None, must_have_launched=False,
    checks_lock=False,
)  # fmt: skip
UPDATABLE = frozenset(
    {"display_name", "description", "access_ip_v4", "access_ip_v6", "auto_disk_config"}
)
REBUILDABLE = UPDATABLE | {"metadata", "key_name", "user_data"}
_META = "os_compute_api:server-metadata:"
_TAGS = "os_compute_api:os-server-tags:"
_PASSWORD = "os_compute_api:os-server-password:"


class ServerRecords:
    """The record edits of ``session.servers`` (mixed into `Servers`)."""

    session: Session
    api: NovaAPI

    async def rebuild(self, server_id: str, image: str) -> None:
        raise NotImplementedError  # ServerActions'

    async def _find_image(self, ctx: RequestContext, ref: str) -> objects.Image:
        raise NotImplementedError  # Servers'

    async def _record(
        self, server_id: str, rule: str, state_rule: ActionRule | None = None
    ) -> tuple[RequestContext, objects.Instance]:
        """The caller's context and the server, once the policy (and states) allow `rule`."""
        ctx = await self.session.context()
        instance = await self.api.conductor.instance_get(ctx, server_id)
        if not policy.can_see(ctx, instance.project_id):
            raise InstanceNotFound(f"Instance {server_id} could not be found.")
        self.api.authorize(ctx, rule, instance.project_id)
        if state_rule is not None:
            check_rule(ctx, instance, state_rule)
        return ctx, instance

    async def _instance_fields(
        self, ctx: RequestContext, fields: CreateFields | None
    ) -> dict[str, Any]:
        """The new instances' values for `fields`, checked (the key pair looked up)."""
        if fields is None:
            return {}
        if len(fields.tags) > MAX_TAGS:
            raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}.")
        values: dict[str, Any] = {
            "description": check_description(fields.description),
            "access_ip_v4": access_ip(fields.access_ip_v4, 4),
            "access_ip_v6": access_ip(fields.access_ip_v6, 6),
            "auto_disk_config": validators.boolean("auto_disk_config", fields.auto_disk_config),
            "user_data": check_user_data(fields.user_data),
            "tags": tuple(dict.fromkeys(check_tag(t) for t in fields.tags)),
        }
        if fields.key_name is not None:
            values.update(await self._key_of(ctx, fields.key_name))
        return values

    async def _key_of(self, ctx: RequestContext, name: str) -> dict[str, str]:
        """The caller's key pair `name` as an instance records it; 400 if there is none."""
        try:
            keypair = await self.api.conductor.keypair_get(ctx, ctx.user_id or "", name)
        except KeypairNotFound:
            raise Invalid(
                f"Invalid key_name provided: the user has no key pair {name!r}."
            ) from None
        return {"key_name": keypair.name, "key_data": keypair.public_key}

    async def _check_port_quota(self, ctx: RequestContext, new_ports: int) -> None:
        """403 before anything is recorded if the new servers' ports would pass the quota.

        Nova's API asks Neutron the same (``validate_networks``) so that a create
        over the port quota is refused up front, not failed at build. Two creates
        racing for the last ports may both pass here; the network service's own check
        at allocation still stops the second (its build goes to ERROR).
        """
        limit = self.api.config.network.quota_port
        if limit < 0 or new_ports <= 0:
            return
        used = await self.api.network.project_port_count(ctx)
        if used + new_ports > limit:
            raise QuotaExceeded(
                f"Maximum number of ports exceeded: the servers need {new_ports} ports and "
                f"project {ctx.project_id} has {used} of its {limit} ([network] quota_port).",
                resource="port",
            )

    async def update(self, server_id: str, changes: Mapping[str, Any]) -> objects.Instance:
        """Rename the server, or change its description, access addresses or disk config."""
        ctx = await self.session.context()
        values = await self._checked(ctx, changes, UPDATABLE)
        ctx, instance = await self._record(server_id, "update")
        if not values:
            return instance
        return await self.api.conductor.instance_update(ctx, instance.uuid, values)

    async def rebuild_with(
        self, server_id: str, image: str, changes: Mapping[str, Any]
    ) -> objects.Instance:
        """Rebuild the server from `image`, and give it the record values of `changes`.

        Besides what an update changes, a rebuild may replace the metadata, the key
        pair (``key_name``; None removes it) and the user data. Everything is checked
        first, then saved with the new image before the rebuild is sent (the host
        rebuilds with the new key and user data, and the answer shows the new image,
        as in Nova); a rebuild that is then refused puts the old values back, so a
        refused request changes nothing.
        """
        ctx = await self.session.context()
        values = await self._checked(ctx, changes, REBUILDABLE)
        ctx, before = await self._record(server_id, "rebuild")
        values["image_ref"] = (await self._find_image(ctx, image)).id
        await self.api.conductor.instance_update(ctx, before.uuid, values)
        try:
            await self.rebuild(server_id, image)
        except NovaLiteError:
            old = {field: getattr(before, field) for field in values}
            await self.api.conductor.instance_update(ctx, before.uuid, old)
            raise
        return await self.api.conductor.instance_get(ctx, server_id)

    async def _checked(
        self, ctx: RequestContext, changes: Mapping[str, Any], allowed: frozenset[str]
    ) -> dict[str, Any]:
        """`changes` checked and normalised (the key pair looked up); 400 for a bad one."""
        unknown = set(changes) - allowed
        if unknown:
            raise Invalid(f"Cannot change server fields {sorted(unknown)}.")
        values = dict(changes)
        checks: dict[str, Any] = {
            "display_name": validators.server_name,
            "description": check_description,
            "access_ip_v4": lambda v: access_ip(v, 4),
            "access_ip_v6": lambda v: access_ip(v, 6),
            "auto_disk_config": lambda v: validators.boolean("auto_disk_config", v),
            "user_data": check_user_data,
            "metadata": checked_metadata,
        }
        for field, check in checks.items():
            if field in values:
                values[field] = check(values[field])
        if "key_name" in values:
            name = values.pop("key_name")
            key = {"key_name": None, "key_data": None}
            values.update(key if name is None else await self._key_of(ctx, name))
        return values

    # -- metadata --------------------------------------------------------------

    async def metadata(self, server_id: str) -> dict[str, str]:
        """The server's metadata."""
        _, instance = await self._record(server_id, _META + "index")
        return dict(instance.metadata)

    async def metadata_item(self, server_id: str, key: str) -> str:
        """One metadata item's value (`NotFound` if the server has no such key)."""
        _, instance = await self._record(server_id, _META + "show")
        if key not in instance.metadata:
            raise NotFound("Metadata item was not found")
        return instance.metadata[key]

    async def set_metadata(
        self, server_id: str, items: Mapping[str, str], *, replace: bool = False, one: bool = False
    ) -> dict[str, str]:
        """Add or change `items` (all of the metadata if `replace`); the result."""
        check_items(items)
        operation = "update_all" if replace else ("update" if one else "create")
        ctx, instance = await self._record(server_id, _META + operation, METADATA_RULE)
        saved = await self.api.conductor.instance_edit_metadata(
            ctx, instance.uuid, dict(items), [], replace=replace
        )
        return dict(saved.metadata)

    async def delete_metadata(self, server_id: str, key: str) -> None:
        """Remove one metadata item (`NotFound` if the server has no such key)."""
        ctx, instance = await self._record(server_id, _META + "delete", METADATA_RULE)
        await self.api.conductor.instance_edit_metadata(ctx, instance.uuid, {}, [key])

    # -- tags ------------------------------------------------------------------

    async def tags(self, server_id: str) -> list[str]:
        """The server's tags, in the order they were added."""
        _, instance = await self._record(server_id, _TAGS + "index")
        return list(instance.tags)

    async def has_tag(self, server_id: str, tag: str) -> bool:
        """Whether the server has `tag`."""
        _, instance = await self._record(server_id, _TAGS + "show")
        return tag in instance.tags

    async def add_tag(self, server_id: str, tag: str) -> bool:
        """Tag the server; whether the tag is new (False: it had it already)."""
        check_tag(tag)
        ctx, instance = await self._record(server_id, _TAGS + "update", TAGS_RULE)
        if tag in instance.tags:
            return False
        await self.api.conductor.instance_edit_tags(ctx, instance.uuid, [tag], [])
        return True

    async def set_tags(self, server_id: str, tags: list[str]) -> list[str]:
        """Replace the server's tags with `tags` (empty: remove them all)."""
        checked = [check_tag(t) for t in tags]
        operation = "update_all" if checked else "delete_all"
        ctx, instance = await self._record(server_id, _TAGS + operation, TAGS_RULE)
        saved = await self.api.conductor.instance_edit_tags(
            ctx, instance.uuid, checked, [], replace=True
        )
        return list(saved.tags)

    async def delete_tag(self, server_id: str, tag: str) -> None:
        """Remove one tag (`NotFound` if the server does not have it)."""
        ctx, instance = await self._record(server_id, _TAGS + "delete", TAGS_RULE)
        await self.api.conductor.instance_edit_tags(ctx, instance.uuid, [], [tag])

    # -- the password the guest posted --------------------------------------------

    async def password(self, server_id: str) -> str:
        """The encrypted password the guest posted to the metadata service ("" if none)."""
        _, instance = await self._record(server_id, _PASSWORD + "show")
        return _password_of(instance.system_metadata)

    async def clear_password(self, server_id: str) -> None:
        """Forget the password (the guest keeps its own)."""
        ctx, instance = await self._record(server_id, _PASSWORD + "clear")
        if not _password_of(instance.system_metadata):
            return
        kept = {k: v for k, v in instance.system_metadata.items() if not k.startswith("password_")}
        await self.api.conductor.instance_update(ctx, instance.uuid, {"system_metadata": kept})


def _password_of(system_metadata: Mapping[str, str]) -> str:
    """Nova keeps the password in four system metadata chunks, ``password_0`` to ``_3``."""
    return "".join(system_metadata.get(f"password_{i}", "") for i in range(4))
