"""A server create that is either done or not done, whatever the broker does meanwhile.

A create is three messages: record the instances (a call to the conductor), record
the "create" instance action (a call), and ask for them to be placed (a cast). A
broker restart can leave the outcome of any of them unknown: a call whose reply was
lost may or may not have been carried out. Answering "try again" then could hide a
success, and a client retrying as told would get duplicates and spend quota twice.
So, here:

- Each step is idempotent (the instances are recorded under uuids chosen here, and
  the conductor answers the same batch again with the records it made; the action
  is recorded once per request id; a placement asked twice is done once), and a
  step whose outcome the broker left unknown is sent once more when the broker is
  back (`nova_lite.rpc.retry.retried`, within ``[rpc] timeout``).
- A step that still fails after the instances were recorded gives them back
  (deletes them) before the error is answered: an error means nothing was created.
- The one case left, the broker away for longer than ``[rpc] timeout`` while the
  instances are recorded, is closed by the caller's ``X-OpenStack-Request-ID``
  (the global request id, as Nova reads it since microversion 2.46): with one, the
  uuids are derived from it, the project and the request's content
  (`instance_uuids`), so the same create sent again with the same header is the
  same create, and answers with the servers the first one made, in whatever state
  they are now. Without the header, each create is new, as in Nova.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

import orjson

from nova_lite.context import RequestContext

__all__ = ["instance_uuids"]

#: The namespace of the uuids derived from a global request id.
_NAMESPACE: Final = uuid.UUID("6f1d6b2e-2f55-5b8e-9c1e-0a6e1f0c5a11")


def instance_uuids(ctx: RequestContext, request: Mapping[str, Any], count: int) -> list[str]:
    """The uuids of a create's `count` instances.

    With a global request id (the caller's ``X-OpenStack-Request-ID``) they are
    derived from it, the project and the request (`request`: every argument of the
    create, JSON-serialisable), so the same create sent again gets the same uuids;
    without one they are random.
    """
    if ctx.global_request_id is None:
        return [str(uuid.uuid4()) for _ in range(count)]
    content = orjson.dumps(request, option=orjson.OPT_SORT_KEYS, default=str).decode()
    seed = f"{ctx.project_id}\n{ctx.global_request_id}\n{content}"
    return [str(uuid.uuid5(_NAMESPACE, f"{seed}\n{index}")) for index in range(count)]
