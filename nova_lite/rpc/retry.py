"""An idempotent call sent once more when the broker left its outcome unknown.

A call whose connection dropped while it waited for its reply (`ConnectionLost`),
that timed out, or that could not reach the broker may or may not have been carried
out. For an idempotent call (a create under uuids chosen by the caller, a
compare-and-swap that a second time finds its own work done) the honest answer is
to ask again once the broker is back: the API's create steps do, and so does a
compute host recording that a build it gave up on is in ERROR (its guest is gone
by then, so the record must say so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import structlog

from nova_lite.exceptions import ConnectionLost, MessagingTimeout, TransportUnreachable
from nova_lite.transport import Transport

__all__ = ["OUTCOME_UNKNOWN", "retried"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: The failures after which a request may or may not have been carried out.
OUTCOME_UNKNOWN: Final = (ConnectionLost, MessagingTimeout, TransportUnreachable)


async def retried(
    transport: Transport, timeout: float, what: str, step: Callable[[], Awaitable[T]]
) -> T:
    """Run `step`; if the broker left its outcome unknown, once more when it is back.

    `step` must be idempotent. The second attempt waits at most `timeout` seconds
    for the transport to reconnect; its failure is raised as it is.
    """
    try:
        return await step()
    except OUTCOME_UNKNOWN as exc:
        log.warning("rpc.step_retried", step=what, error=str(exc))
    try:
        await asyncio.wait_for(transport.wait_until_up(), timeout)
    except TimeoutError:
        raise TransportUnreachable(
            f"The message bus did not come back within {timeout:g} s to {what}; try again later."
        ) from None
    return await step()
