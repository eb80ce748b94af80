"""How the API claims a server for an action, and gives the claim back if a step fails.

An action is accepted in three moves: check (the server is visible, the policy
allows the caller, `check_instance_state` accepts its vm_state and task_state),
claim (the task_state is set with a compare-and-swap on the states just read, so of
two racing actions exactly one wins, and the action is recorded under the request's
id), and send (the cast to the compute host or conductor). Everything an action can
check with another service (an image name, a flavor, a migration, a volume) is
checked before the claim. A step after the claim that fails (the cast cannot be
delivered) gives the claim back: the task_state returns to what it was and the
instance action is discarded, so a refused or failed request changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from nova_lite import objects
from nova_lite.compute.allowed_states import check_instance_state
from nova_lite.context import RequestContext
from nova_lite.exceptions import (
    InstanceInvalidState,
    InstanceNotFound,
    Invalid,
    NovaLiteError,
    UnexpectedTaskStateError,
)

if TYPE_CHECKING:
    from nova_lite.api.client import NovaAPI, Session

__all__ = ["ClaimingActions", "Send"]

log = structlog.get_logger(__name__)

Send = Callable[[RequestContext, str, str], Awaitable[None]]
"""A compute rpcapi cast: ``(ctx, host, instance_uuid)``."""


class ClaimingActions:
    """The check, claim and give-back of ``session.servers`` actions (module doc)."""

    session: Session
    api: NovaAPI

    async def _visible_instance(
        self, ctx: RequestContext, server_id: str, *, read_deleted: bool = False
    ) -> objects.Instance:
        raise NotImplementedError

    async def _check(
        self, server_id: str, action: str, *, rule: str | None = None
    ) -> tuple[RequestContext, objects.Instance]:
        """A context and the instance, once the policy and the state table accept `action`."""
        ctx = await self.session.context()
        instance = await self._visible_instance(ctx, server_id)
        self.api.authorize(ctx, rule or action, instance.project_id)
        check_instance_state(ctx, instance, action)
        return ctx, instance

    async def _claim(
        self, ctx: RequestContext, instance: objects.Instance, action: str, task_state: str
    ) -> objects.Instance:
        """Set the task with a compare-and-swap on the states read, recording the action."""
        try:
            claimed = await self.api.conductor.instance_update(
                ctx,
                instance.uuid,
                {"task_state": task_state},
                expected_task_state=[instance.task_state],
                expected_vm_state=[instance.vm_state],
                action=action,  # recorded with the claim (conductor 1.4)
            )
        except UnexpectedTaskStateError as exc:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance.uuid}: its state changed while the "
                f"request was checked ({exc}).",
                instance_uuid=instance.uuid,
                action=action,
            ) from None
        return claimed

    async def _give_back(
        self, ctx: RequestContext, before: objects.Instance, action: str, task_state: str
    ) -> None:
        """Undo a claim whose next step failed: the task as it was, no action recorded."""
        try:
            await self.api.conductor.instance_update(
                ctx,
                before.uuid,
                {"task_state": before.task_state},
                expected_task_state=[task_state],
            )
        except (UnexpectedTaskStateError, InstanceNotFound) as exc:
            log.info("api.claim_not_given_back", instance_uuid=before.uuid, error=str(exc))
        try:
            await self.api.conductor.action_discard(ctx, before.uuid, action)
        except NovaLiteError as exc:
            log.warning("api.action_not_discarded", instance_uuid=before.uuid, error=str(exc))

    @contextlib.asynccontextmanager
    async def _claimed(
        self, ctx: RequestContext, instance: objects.Instance, action: str, task_state: str
    ) -> AsyncIterator[objects.Instance]:
        """The claimed instance, while the block sends the work; a failure gives it back."""
        claimed = await self._claim(ctx, instance, action, task_state)
        try:
            yield claimed
        except NovaLiteError:
            await self._give_back(ctx, instance, action, task_state)
            raise

    async def _cast_action(self, server_id: str, action: str, task_state: str, send: Send) -> None:
        """Check, claim, then cast `send` to the server's host (an action of one hop)."""
        ctx, instance = await self._check(server_id, action)
        host = self._host(instance)
        async with self._claimed(ctx, instance, action, task_state):
            await send(ctx, host, instance.uuid)

    def _host(self, instance: objects.Instance) -> str:
        if instance.host is None:
            raise Invalid(f"Server {instance.uuid} is not on any host.")
        return instance.host
