"""The one check of the admin-only RPC endpoints: the caller must be an administrator.

The bus is trusted (any holder of broker credentials can send any message), but the
endpoints that expose a service's whole books or repair them (the audit's) still
refuse a context that does not claim the admin role, so a user's token relayed by
the api service never reaches them.
"""

from __future__ import annotations

from nova_lite.context import RequestContext
from nova_lite.exceptions import Forbidden

__all__ = ["require_admin"]


def require_admin(ctx: RequestContext, action: str) -> None:
    """Raise `Forbidden` unless `ctx` is an administrator's; `action` says what was asked."""
    if not ctx.is_admin:
        raise Forbidden(f"Only administrators may {action}.", action=action)
