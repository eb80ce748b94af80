"""Reading configuration values strictly, and naming the source of every bad one.

`config.py` declares the options (attrs classes with types, defaults and
validators); this module turns a TOML table, ``NOVA_LITE_*`` environment variables
or Python overrides into instances of them. Each option type has one `_Kind`: how a
TOML (or Python) value of it is checked, how an environment variable's text spells
it, and what an error says was expected. Nothing is coerced: an ``int`` option
given ``1.9``, ``"2"`` or ``true`` is an error, not 1, 2 or 1.

(cattrs, which the RPC serializer uses, was considered. Its structuring is lax by
default (``"2"`` becomes 2, ``1.9`` becomes 1, ``"false"`` becomes True), so each
strict check would still be a hook written here, environment text would still need
its own parsing, and cattrs' grouped exceptions would have to be translated back
into one sentence naming the file or variable, the key and the value.)
"""

from __future__ import annotations

import datetime
import difflib
import functools
import math
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from nova_lite.exceptions import ConfigError

__all__ = [
    "BOOL_SPELLINGS",
    "ENV_PREFIX",
    "RESERVED_ENV_NAMES",
    "RESERVED_ENV_PREFIXES",
    "Origin",
    "build",
    "environment_variables",
    "from_environ",
    "is_reserved_variable",
    "merge",
]

ENV_PREFIX = "NOVA_LITE_"

RESERVED_ENV_PREFIXES: tuple[str, ...] = ("NOVA_LITE_TEST_",)
"""``NOVA_LITE_*`` prefixes that belong to the test suite and benchmarks, not to `Config`:
``NOVA_LITE_TEST_AMQP_URL`` (the broker of the tests and benchmarks),
``NOVA_LITE_TEST_RABBITMQ_BIN`` (where the private test broker's scripts are), and any
future one."""

RESERVED_ENV_NAMES: frozenset[str] = frozenset(
    {
        "NOVA_LITE_CONFIG",  # the configuration file: nova-lite --config
        "NOVA_LITE_USERNAME",  # the client commands' --username
        "NOVA_LITE_PASSWORD",  # the client commands' --password
        "NOVA_LITE_PROJECT",  # the client commands' --project
        "NOVA_LITE_API_URL",  # the client commands' --api-url
        "NOVA_LITE_CACHE",  # scripts/setup-libvirt's download cache (also the libvirt tests)
        "NOVA_LITE_GUEST_KERNEL",  # the guest kernel of the libvirt tests
    }
)
"""``NOVA_LITE_*`` variables of the command line and tools that are not options."""


# -- values --------------------------------------------------------------------------


class _Mismatch(Exception):
    """A value is not of its option's type (turned into a `ConfigError` by the caller)."""


@attrs.frozen
class Origin:
    """Where a layer of values comes from, to name it in errors.

    `variables` maps an option (``"rpc.timeout"``) to the environment variable that
    set it, so an error about that option names the variable rather than "environment".
    """

    label: str
    variables: Mapping[str, str] = attrs.field(factory=dict)

    def of(self, where: str) -> str:
        variable = self.variables.get(where)
        return f"environment variable {variable}" if variable else self.label


@attrs.frozen
class _Kind:
    """How values of one option type are read: from TOML (or Python) values, and from
    environment variables, whose values are always text."""

    name: str
    from_value: Callable[[Any], Any]
    from_text: Callable[[str], Any]
    expected_value: str
    expected_text: str


def _int_value(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Mismatch
    return raw


def _float_value(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _Mismatch
    try:
        value = float(raw)
    except OverflowError:
        raise _Mismatch from None
    if not math.isfinite(value) or (isinstance(raw, int) and int(value) != raw):
        raise _Mismatch  # nan, inf, or an integer that a float would round
    return value


def _bool_value(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise _Mismatch
    return raw


def _str_value(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Mismatch
    return raw


def _names_value(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple):
        raise _Mismatch
    if not all(isinstance(item, str) and item.strip() for item in raw):
        raise _Mismatch
    return tuple(raw)


_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

BOOL_SPELLINGS: Mapping[str, bool] = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}
"""What a boolean option's environment variable may say, in any letter case."""


def _int_text(text: str) -> int:
    if not _INT_TEXT.fullmatch(text):
        raise _Mismatch
    return int(text)


def _float_text(text: str) -> float:
    if not _FLOAT_TEXT.fullmatch(text):
        raise _Mismatch
    return _float_value(float(text))


def _bool_text(text: str) -> bool:
    try:
        return BOOL_SPELLINGS[text.lower()]
    except KeyError:
        raise _Mismatch from None


def _names_text(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _spellings() -> str:
    true = ", ".join(k for k, v in BOOL_SPELLINGS.items() if v)
    false = ", ".join(k for k, v in BOOL_SPELLINGS.items() if not v)
    return f"one of {true} (true) or {false} (false), in any letter case"


_KINDS: dict[Any, _Kind] = {
    int: _Kind(
        "int",
        _int_value,
        _int_text,
        "an integer (a TOML integer, not a float, string or boolean)",
        "an integer literal: decimal digits with an optional sign, such as 64",
    ),
    float: _Kind(
        "float",
        _float_value,
        _float_text,
        "a finite number (a TOML float, or an integer a float holds exactly)",
        "a finite decimal number such as 60, 2.5 or 1e3",
    ),
    bool: _Kind("bool", _bool_value, _bool_text, "true or false (a TOML boolean)", _spellings()),
    str: _Kind("str", _str_value, str, "a string", "text"),
    tuple[str, ...]: _Kind(
        "list of names",
        _names_value,
        _names_text,
        "an array of non-empty strings",
        "names separated by commas",
    ),
}


def _kind(tp: Any) -> _Kind:
    try:
        return _KINDS[tp]
    except KeyError:
        raise TypeError(f"configuration options of type {tp!r} cannot be read") from None


def _shown(raw: Any) -> str:
    """`raw` as the TOML file spells it (``true``, not ``True``), cut to a readable length."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, datetime.date | datetime.time):
        return raw.isoformat()
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def _value(tp: Any, raw: Any, origin: Origin, where: str) -> Any:
    """`raw` (from TOML or Python) if it is exactly of the option type `tp`."""
    kind = _kind(tp)
    try:
        return kind.from_value(raw)
    except _Mismatch:
        raise ConfigError(
            f"{origin.of(where)}: {where} = {_shown(raw)} is not a valid {kind.name}; "
            f"expected {kind.expected_value}."
        ) from None


def _text(tp: Any, text: str, variable: str, where: str) -> Any:
    """The value of the option type `tp` that the environment variable's `text` spells."""
    kind = _kind(tp)
    try:
        return kind.from_text(text)
    except _Mismatch:
        raise ConfigError(
            f"environment variable {variable}: {where} = {text!r} is not a valid {kind.name}; "
            f"expected {kind.expected_text}."
        ) from None


# -- building sections ---------------------------------------------------------------


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _did_you_mean_variable(name: str, known: Iterable[str]) -> str:
    """The closest option variable, comparing what follows the common ``NOVA_LITE_``
    in upper case (``NOVA_LITE_rpc_timeout`` is close to ``NOVA_LITE_RPC_TIMEOUT``)."""
    tails = {variable.removeprefix(ENV_PREFIX): variable for variable in known}
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX).upper(), list(tails), n=1)
    return f" Did you mean {tails[close[0]]}?" if close else ""


def build(cls: type, data: Any, origin: Origin, section: str = "") -> Any:
    """An instance of the options class `cls` from `data`, checking every key and value."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin.label}: [{section}] must be a table, not {_shown(data)}.")
    types_ = _field_types(cls)
    values: dict[str, Any] = {}
    for key, raw in data.items():
        where = f"{section}.{key}" if section else key
        if key not in types_:
            known = ", ".join(sorted(types_))
            raise ConfigError(
                f"{origin.label}: unknown key {where!r}.{_did_you_mean(key, types_)} "
                f"The keys here are: {known}."
            )
        tp = types_[key]
        if attrs.has(tp):
            values[key] = raw if isinstance(raw, tp) else build(tp, raw, origin, where)
        else:
            values[key] = _value(tp, raw, origin, where)
    _validate(cls, values, origin, section)
    return cls(**values)


def _validate(cls: type, values: Mapping[str, Any], origin: Origin, section: str) -> None:
    """Run the fields' own validators (ranges, choices), naming the key that fails."""
    for attribute in attrs.fields(cls):
        if attribute.name not in values or attribute.validator is None:
            continue
        value = values[attribute.name]
        try:
            attribute.validator(None, attribute, value)
        except (ValueError, TypeError) as exc:
            where = f"{section}.{attribute.name}" if section else attribute.name
            raise ConfigError(f"{origin.of(where)}: {where} = {_shown(value)}: {exc}.") from None


# -- the environment ------------------------------------------------------------------


@functools.cache
def environment_variables(cls: type) -> dict[str, tuple[str, ...]]:
    """Every option's environment variable, and the option's path (``("rpc", "timeout")``)."""
    names: dict[str, tuple[str, ...]] = {}
    for key, tp in _field_types(cls).items():
        paths = [(key, sub) for sub in _field_types(tp)] if attrs.has(tp) else [(key,)]
        for path in paths:
            name = ENV_PREFIX + "_".join(path).upper()
            if name in names:
                raise TypeError(f"options {names[name]} and {path} share the variable {name}")
            names[name] = path
    return names


def is_reserved_variable(name: str) -> bool:
    """Whether `name` is a ``NOVA_LITE_*`` variable of the tools, not a configuration option."""
    return name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES)


def from_environ(cls: type, environ: Mapping[str, str]) -> tuple[dict[str, Any], Origin]:
    """The options that ``NOVA_LITE_*`` variables set, as nested data, and their origin.

    A ``NOVA_LITE_*`` variable that is neither an option nor reserved is an error: a
    misspelt option would otherwise be silently ignored.
    """
    names = environment_variables(cls)
    found: dict[str, Any] = {}
    variables: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or is_reserved_variable(name):
            continue
        path = names.get(name)
        if path is None:
            raise ConfigError(
                f"environment variable {name} is not a nova_lite option."
                f"{_did_you_mean_variable(name, names)} Options are NOVA_LITE_<KEY> or "
                "NOVA_LITE_<SECTION>_<KEY> (see etc/nova-lite.sample.toml)."
            )
        where = ".".join(path)
        owner: type = cls
        target = found
        for part in path[:-1]:
            owner = _field_types(owner)[part]
            target = target.setdefault(part, {})
        target[path[-1]] = _text(_field_types(owner)[path[-1]], environ[name], name, where)
        variables[where] = name
    return found, Origin("environment", variables)
