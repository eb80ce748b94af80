"""How values cross the wire: the `Serializer` protocol the Invoker and Worker use.

Plain JSON values travel as they are; model objects travel as Nova's versioned-object
primitives. The default implementation, `ObjectSerializer`, lives in
`nova_lite.converter` beside the cattrs converters, so that the model objects
(`nova_lite.objects`) can use it without depending on the RPC layer; it is
re-exported here for RPC users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from nova_lite.converter import ObjectSerializer

if TYPE_CHECKING:
    from nova_lite.context import RequestContext

__all__ = ["ObjectSerializer", "Serializer"]


class Serializer(Protocol):
    """Turns endpoint arguments and results into JSON primitives and back."""

    def serialize_entity(self, ctx: RequestContext, value: Any) -> Any:
        """Return `value` as JSON primitives."""

    def deserialize_entity(self, ctx: RequestContext, value: Any) -> Any:
        """Rebuild a value from what `serialize_entity` produced."""
