"""The statuses of a migration record (Nova's ``Migration.status`` values for a resize).

A resize's migration goes ``pre-migrating`` (recorded by the conductor) →
``migrating`` (destination chosen) → ``post-migrating`` (the source let the guest
go) → ``finished`` (the guest runs on the destination; VERIFY_RESIZE). A revert
accepted by the API makes it ``reverting``. It ends ``confirmed``, ``reverted`` or
``error`` (a hop failed, or a delete, soft delete or other action preempted it).
Until it ends it holds the source host's claim under its own uuid.

A live migration's goes ``accepted`` (recorded by the conductor) → ``preparing``
(destination chosen and claimed) → ``running`` (the source hands the guest over) →
``completed``; one that fails ends ``error``. It holds the source's claim until it
ends too. Its statuses are apart (`LIVE_IN_PROGRESS`), so nothing that looks for
an unfinished resize mistakes one for it.
"""

from __future__ import annotations

__all__ = [
    "ACCEPTED",
    "COMPLETED",
    "CONFIRMED",
    "ERROR",
    "FINAL",
    "FINISHED",
    "IN_PROGRESS",
    "LIVE_IN_PROGRESS",
    "MIGRATING",
    "POST_MIGRATING",
    "PREPARING",
    "PRE_MIGRATING",
    "REVERTED",
    "REVERTING",
    "RUNNING",
]

PRE_MIGRATING = "pre-migrating"
MIGRATING = "migrating"
POST_MIGRATING = "post-migrating"
FINISHED = "finished"
REVERTING = "reverting"
CONFIRMED = "confirmed"
REVERTED = "reverted"
ERROR = "error"
ACCEPTED = "accepted"
PREPARING = "preparing"
RUNNING = "running"
COMPLETED = "completed"

FINAL = frozenset({CONFIRMED, REVERTED, ERROR, COMPLETED})
"""A migration in one of these holds nothing any more."""
IN_PROGRESS = (PRE_MIGRATING, MIGRATING, POST_MIGRATING, FINISHED, REVERTING)
"""Every status before the end, in the order a resize goes through them."""
LIVE_IN_PROGRESS = (ACCEPTED, PREPARING, RUNNING)
"""A live migration's statuses before the end, in order."""
