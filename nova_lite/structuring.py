"""Strict structuring: checking a received value against a type annotation.

The RPC boundary (`nova_lite.rpc.dispatcher`) checks every argument of a request
against its endpoint's annotation before the method runs, with hooks made once per
type by a cattrs converter set up here. Strict means no silent coercion:

- ``"5"`` is not an int, ``1.9`` is not an int, ``True`` is not an int (nor a
  float); an int is a float (PEP 484's numeric tower) and becomes one;
- a str is not a list; containers are checked element by element (lists and
  tuples arrive as JSON arrays, dicts as objects, with str keys);
- an attrs object must arrive already rebuilt by the `ObjectSerializer`, of the
  annotated class (a plain dict is not an ``Instance``);
- ``X | None`` accepts None; unions try each member; ``Literal`` needs one of its
  values (of the same type); ``Any`` and ``object`` accept anything;
- datetimes and UUIDs are accepted as such or as their text form (as the data
  converter writes them).

A mismatch raises `ArgumentMismatch`, saying where (``[2]``, ``['key']``), what
was expected and what came.
"""

from __future__ import annotations

import datetime
import enum
import functools
import pathlib
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union

import attrs
import cattrs

__all__ = ["ArgumentMismatch", "Hook", "describe", "strict_hook"]

Hook = Callable[[Any, Any], Any]


class ArgumentMismatch(Exception):
    """A value does not fit a type: where inside it, what was expected, what came.

    Internal to the structuring hooks: the RPC dispatcher turns it into
    `nova_lite.exceptions.InvalidRpcArguments` (which is what crosses the wire).
    """

    def __init__(self, tp: Any, value: Any, path: str = "") -> None:
        super().__init__(tp, value, path)
        self.tp = tp
        self.value = value
        self.path = path

    @property
    def expected(self) -> str:
        """The expected type, as annotated (``list[str] | None``)."""
        return describe(self.tp)

    @property
    def phrase(self) -> str:
        """The expected type in words (``a list of strings or null``)."""
        return phrase(self.tp)

    @property
    def got(self) -> str:
        """What arrived, as a short repr."""
        text = repr(self.value)
        return text if len(text) <= 60 else text[:57] + "..."

    def inside(self, step: str) -> ArgumentMismatch:
        """The same mismatch, one container level further out."""
        return ArgumentMismatch(self.tp, self.value, step + self.path)


def describe(tp: Any) -> str:
    """A type as a reader writes it: ``list[str] | None``, ``Instance``, ``Any``."""
    if tp is Any:
        return "Any"
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(describe(a) for a in args)
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    name = getattr(origin, "__name__", str(origin))
    return f"{name}[{', '.join('...' if a is Ellipsis else describe(a) for a in args)}]"


_WORDS: dict[Any, tuple[str, str]] = {
    str: ("a string", "strings"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    bool: ("true or false", "booleans"),
    type(None): ("null", "nulls"),
    Any: ("anything", "values"),
    object: ("anything", "values"),
}


def phrase(tp: Any, *, plural: bool = False) -> str:
    """A type in words, for messages: ``a string``, ``a list of Selection objects``."""
    if tp in _WORDS:
        return _WORDS[tp][plural]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        members = sorted(args, key=lambda a: a is type(None))  # "or null" last
        return " or ".join(phrase(a, plural=plural) for a in members)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(tp, type) and attrs.has(tp):
        return f"{tp.__name__} objects" if plural else f"a {tp.__name__} object"
    if (origin or tp) in _SEQUENCES and args:
        return ("lists of " if plural else "a list of ") + phrase(args[0], plural=True)
    if (origin or tp) in (dict, Mapping):
        value = args[1] if args else Any
        if value is Any:
            return "objects" if plural else "an object"
        return ("objects of " if plural else "an object of ") + phrase(value, plural=True)
    return describe(tp)


def _fail(tp: Any, value: Any) -> typing.NoReturn:
    raise ArgumentMismatch(tp, value)


# -- scalars -----------------------------------------------------------------------


def _str(value: Any, tp: Any) -> str:
    if type(value) is str or isinstance(value, str):
        return value
    _fail(tp, value)


def _int(value: Any, tp: Any) -> int:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    _fail(tp, value)


def _float(value: Any, tp: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    _fail(tp, value)


def _bool(value: Any, tp: Any) -> bool:
    if value is True or value is False:
        return value
    _fail(tp, value)


def _none(value: Any, tp: Any) -> None:
    if value is not None:
        _fail(tp, value)


def _any(value: Any, tp: Any) -> Any:
    return value


def _from_text(parse: Callable[[str], Any], cls: type) -> Hook:
    def structure(value: Any, tp: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return parse(value)
            except ValueError:
                pass
        _fail(tp, value)

    return structure


# -- factories for the other forms ---------------------------------------------------


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _union(tp: Any, converter: cattrs.Converter) -> Hook:
    members = typing.get_args(tp)
    optional = type(None) in members
    hooks = [(m, converter.get_structure_hook(m)) for m in members if m is not type(None)]

    if len(hooks) == 1:  # ``X | None``: a value that is not None must be an X
        (member, hook), optional_tp = hooks[0], tp

        def structure_optional(value: Any, _: Any) -> Any:
            if value is None:
                return None
            try:
                return hook(value, member)
            except ArgumentMismatch as exc:
                if exc.path:  # it was the right container, wrong inside: say where
                    raise
                _fail(optional_tp, value)

        return structure_optional

    def structure(value: Any, _: Any) -> Any:
        if value is None:
            if optional:
                return None
            _fail(tp, value)
        for member, hook in hooks:
            try:
                return hook(value, member)
            except ArgumentMismatch:
                continue
        _fail(tp, value)

    return structure


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _literal(tp: Any, converter: cattrs.Converter) -> Hook:
    allowed = {(type(a), a) for a in typing.get_args(tp)}

    def structure(value: Any, _: Any) -> Any:
        if (type(value), value) in allowed:
            return value
        _fail(tp, value)

    return structure


_SEQUENCES: dict[Any, Callable[[list[Any]], Any]] = {
    list: list,
    Sequence: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
}


def _is_sequence(tp: Any) -> bool:
    return (typing.get_origin(tp) or tp) in _SEQUENCES and tp not in (str, bytes)


def _sequence(tp: Any, converter: cattrs.Converter) -> Hook:
    origin = typing.get_origin(tp) or tp
    build = _SEQUENCES[origin]
    args = typing.get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _fixed_tuple(tp, args, converter)
    item = args[0] if args else Any
    hook = converter.get_structure_hook(item)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            _fail(tp, value)
        items = []
        for index, element in enumerate(value):
            try:
                items.append(hook(element, item))
            except ArgumentMismatch as exc:
                raise exc.inside(f"[{index}]") from None
        return build(items)

    return structure


def _fixed_tuple(tp: Any, args: tuple[Any, ...], converter: cattrs.Converter) -> Hook:
    hooks = [(a, converter.get_structure_hook(a)) for a in args]

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != len(hooks):
            _fail(tp, value)
        items = []
        for index, (element, (item, hook)) in enumerate(zip(value, hooks, strict=True)):
            try:
                items.append(hook(element, item))
            except ArgumentMismatch as exc:
                raise exc.inside(f"[{index}]") from None
        return tuple(items)

    return structure


def _is_mapping(tp: Any) -> bool:
    return (typing.get_origin(tp) or tp) in (dict, Mapping)


def _mapping(tp: Any, converter: cattrs.Converter) -> Hook:
    args = typing.get_args(tp) or (Any, Any)
    key_type, value_type = args
    key_hook = converter.get_structure_hook(key_type)
    value_hook = converter.get_structure_hook(value_type)
    if key_type is str and value_type is Any:
        return _str_any_mapping(tp)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            _fail(tp, value)
        result = {}
        for key, element in value.items():
            try:
                result[key_hook(key, key_type)] = value_hook(element, value_type)
            except ArgumentMismatch as exc:
                raise exc.inside(f"[{key!r}]") from None
        return result

    return structure


def _str_any_mapping(tp: Any) -> Hook:
    """``dict[str, Any]``, the commonest: JSON objects always have str keys."""

    def structure(value: Any, _: Any) -> Any:
        if type(value) is dict:
            return value
        _fail(tp, value)

    return structure


def _is_attrs(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _attrs_instance(tp: Any, converter: cattrs.Converter) -> Hook:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, tp):
            return value
        raise ArgumentMismatch(tp, value)

    return structure


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _enum(tp: Any, converter: cattrs.Converter) -> Hook:
    values = {(type(m.value), m.value): m for m in tp}

    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, tp):
            return value
        member = values.get((type(value), value))
        if member is None:
            raise ArgumentMismatch(Literal[tuple(v for _, v in values)], value)
        return member

    return structure


def _is_plain_class(tp: Any) -> bool:
    return isinstance(tp, type)


def _instance(tp: Any, converter: cattrs.Converter) -> Hook:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, tp):
            return value
        _fail(tp, value)

    return structure


@functools.cache
def _strict_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    # Registered from the most general to the most specific: cattrs asks the last
    # registered predicate first.
    converter.register_structure_hook_factory(_is_plain_class, _instance)
    converter.register_structure_hook_factory(_is_enum, _enum)
    converter.register_structure_hook_factory(_is_attrs, _attrs_instance)
    converter.register_structure_hook_factory(_is_mapping, _mapping)
    converter.register_structure_hook_factory(_is_sequence, _sequence)
    converter.register_structure_hook_factory(_is_literal, _literal)
    converter.register_structure_hook_factory(_is_union, _union)
    converter.register_structure_hook_func(lambda tp: tp is Any or tp is object, _any)
    # cattrs structures these by calling the class (bytes(5), Path("x")): refuse instead.
    for cls in (bytes, pathlib.Path):
        converter.register_structure_hook(cls, _instance(cls, converter))
    for tp, hook in (
        (str, _str),
        (int, _int),
        (float, _float),
        (bool, _bool),
        (type(None), _none),
        (datetime.datetime, _from_text(datetime.datetime.fromisoformat, datetime.datetime)),
        (uuid.UUID, _from_text(uuid.UUID, uuid.UUID)),
    ):
        converter.register_structure_hook(tp, hook)
    return converter


def strict_hook(tp: Any) -> Hook:
    """The strict structuring function for type `tp`: ``hook(value, tp) -> value``.

    Raises `ArgumentMismatch` when the value does not fit. Hooks are made once per
    type (cattrs caches them); callers keep the hook for the hot path.
    """
    return _strict_converter().get_structure_hook(tp)
