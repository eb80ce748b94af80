"""How values become JSON primitives and back: the one home of nova_lite's converters.

Three things live here, below both the model objects (`nova_lite.objects`) and the
RPC layer (`nova_lite.rpc`), so that neither depends on the other:

- `make_data_converter()`: the cattrs converter that turns attrs objects into JSON
  primitives and back (datetimes as ISO text, UUIDs as text, tuples as lists), for
  the wire and for a service's own database.
- `ObjectSerializer`: JSON primitives plus registered attrs model classes, which
  travel as Nova's versioned-object primitives::

      {"nova_object.name": "Instance", "nova_object.namespace": "nova_lite",
       "nova_object.version": "1.2", "nova_object.data": {...}}

  A model class says its wire version with a ``VERSION = "X.Y"`` class attribute; a
  receiver accepts the same major version and ignores unknown fields.
- `strict_hook()` (from `nova_lite.structuring`, re-exported): strict structuring,
  which the RPC boundary uses to check each argument against its annotation.
"""

from __future__ import annotations

import datetime
import enum
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.fns import identity

from nova_lite.exceptions import MessageDecodeError
from nova_lite.structuring import ArgumentMismatch, strict_hook

if TYPE_CHECKING:
    from nova_lite.context import RequestContext

__all__ = ["ArgumentMismatch", "ObjectSerializer", "make_data_converter", "strict_hook"]

_NAME = "nova_object.name"
_NAMESPACE = "nova_object.namespace"
_VERSION = "nova_object.version"
_DATA = "nova_object.data"
_SCALARS = frozenset({str, int, float, bool})


def make_data_converter() -> cattrs.Converter:
    """A cattrs converter for model objects: ISO datetimes, text UUIDs, tuples as lists."""
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime.datetime, datetime.datetime.isoformat)
    converter.register_structure_hook(
        datetime.datetime, lambda v, _: datetime.datetime.fromisoformat(v)
    )
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_structure_hook(uuid.UUID, lambda v, _: uuid.UUID(str(v)))
    converter.register_unstructure_hook(tuple, list)
    _fast_paths(converter)
    return converter


_PLAIN = (str, int, float, bool)
_OPTIONAL_PLAIN = {tp | None: tp for tp in _PLAIN}


def _fast_paths(converter: cattrs.Converter) -> None:
    """Hooks that give cattrs' own results with less work, for the common field types.

    An optional scalar (``str | None``) unstructures as itself, so the generated code
    reads the attribute straight (cattrs inlines `identity`), and structures with one
    test instead of a dispatch per value; a homogeneous tuple (``tuple[str, ...]``)
    structures with its element hook looked up once. Values are made what cattrs
    makes them (``str(v)``, ``int(v)``, ...): only the error text of a bad element
    differs (the element's own error, not cattrs' collected one).
    """
    converter.register_unstructure_hook_func(lambda tp: tp in _OPTIONAL_PLAIN, identity)

    def optional(tp: Any) -> Callable[[Any, Any], Any]:
        plain = _OPTIONAL_PLAIN[tp]

        def structure_optional(value: Any, _: Any) -> Any:
            if value is None or type(value) is plain:
                return value
            return plain(value)

        return structure_optional

    converter.register_structure_hook_factory(lambda tp: tp in _OPTIONAL_PLAIN, optional)

    def homogeneous(tp: Any) -> Callable[[Any, Any], Any]:
        element = typing.get_args(tp)[0]
        if element in _PLAIN:

            def structure_plain(value: Any, _: Any) -> tuple[Any, ...]:
                return tuple(e if type(e) is element else element(e) for e in value)

            return structure_plain
        hook = converter.get_structure_hook(element)

        def structure_each(value: Any, _: Any) -> tuple[Any, ...]:
            return tuple([hook(e, element) for e in value])

        return structure_each

    converter.register_structure_hook_factory(_homogeneous_tuple, homogeneous)


def _homogeneous_tuple(tp: Any) -> bool:
    """``tuple[X, ...]`` for a concrete X (not Any)."""
    if typing.get_origin(tp) is not tuple:
        return False
    args = typing.get_args(tp)
    return len(args) == 2 and args[1] is Ellipsis and args[0] is not Any


class ObjectSerializer:
    """JSON primitives plus registered attrs model classes (the RPC layer's default).

    It is the `nova_lite.rpc.Serializer` protocol (``serialize_entity(ctx, value)``
    and ``deserialize_entity(ctx, value)``), as oslo.messaging's serializers are.
    """

    namespace = "nova_lite"

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self._classes: dict[str, type] = {}
        #: The cattrs converter that turns registered objects into primitives and back.
        self.converter = make_data_converter()
        for cls in classes:
            self.register(cls)

    def register(self, cls: type) -> type:
        """Allow instances of attrs class `cls` to travel; returns `cls`."""
        if not attrs.has(cls):
            raise TypeError(f"{cls.__qualname__} is not an attrs class.")
        if issubclass(cls, Mapping):  # it would travel as a plain mapping
            raise TypeError(f"{cls.__qualname__} is a mapping, not a model object.")
        self._classes[cls.__name__] = cls
        return cls

    def serialize_entity(self, ctx: RequestContext, value: Any) -> Any:
        """Return `value` as JSON primitives (registered objects as versioned primitives)."""
        cls = type(value)
        if cls in _SCALARS or value is None:
            return value
        # The common shapes by their exact type first: an ABC isinstance check is slow.
        if cls is dict:
            return {str(k): self.serialize_entity(ctx, v) for k, v in value.items()}
        if cls is list or cls is tuple:
            return [self.serialize_entity(ctx, v) for v in value]
        if self._classes.get(cls.__name__) is cls:
            return self._object_primitive(value)
        if isinstance(value, Mapping):
            return {str(k): self.serialize_entity(ctx, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.serialize_entity(ctx, v) for v in value]
        if attrs.has(type(value)):
            return self._object_primitive(value)
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, datetime.datetime | datetime.date):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        raise TypeError(f"Cannot send a {type(value).__qualname__} over RPC: {value!r}.")

    def _object_primitive(self, value: Any) -> dict[str, Any]:
        cls = type(value)
        if self._classes.get(cls.__name__) is not cls:
            raise TypeError(
                f"{cls.__qualname__} is not registered with the RPC serializer; "
                "register it with ObjectSerializer.register()."
            )
        return {
            _NAME: cls.__name__,
            _NAMESPACE: self.namespace,
            _VERSION: getattr(cls, "VERSION", "1.0"),
            _DATA: self.converter.unstructure(value),
        }

    def deserialize_entity(self, ctx: RequestContext, value: Any) -> Any:
        """Rebuild a value from what `serialize_entity` (or oslo's) produced."""
        cls = type(value)
        if cls in _SCALARS or value is None:
            return value
        if isinstance(value, dict):
            if _NAME in value:
                return self._from_primitive(value)
            return {k: self.deserialize_entity(ctx, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deserialize_entity(ctx, v) for v in value]
        return value

    def _from_primitive(self, primitive: dict[str, Any]) -> Any:
        name = primitive.get(_NAME)
        cls = self._classes.get(name) if isinstance(name, str) else None
        if cls is None:
            raise MessageDecodeError(f"Unknown object type {name!r} in message.")
        ours = getattr(cls, "VERSION", "1.0").split(".")[0]
        theirs = str(primitive.get(_VERSION, "1.0")).split(".")[0]
        if ours != theirs:
            raise MessageDecodeError(
                f"Object {name} version {primitive.get(_VERSION)} is not compatible "
                f"with the local version {getattr(cls, 'VERSION', '1.0')}."
            )
        try:
            return self.converter.structure(primitive.get(_DATA, {}), cls)
        except Exception as exc:
            raise MessageDecodeError(f"Object {name} has invalid data: {exc}") from exc
