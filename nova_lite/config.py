"""Configuration: one `Config`, from defaults, a TOML file and the environment.

The same TOML file drives every process of a deployment. Top-level keys hold what
every service needs (``transport_url``, ``host``, ...); each ``[section]`` belongs to
one subsystem. Environment variables override the file: ``NOVA_LITE_<KEY>`` for a
top-level key and ``NOVA_LITE_<SECTION>_<KEY>`` for a section's key, e.g.
``NOVA_LITE_TRANSPORT_URL=amqp://...`` or ``NOVA_LITE_RPC_TIMEOUT=30``.

Swapping the in-memory broker for RabbitMQ is the one line ``transport_url``.
"""

from __future__ import annotations

import os
import socket
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import attrs

from nova_lite.exceptions import ConfigError

__all__ = ["Config", "LoggingConfig", "RpcConfig"]

ENV_PREFIX = "NOVA_LITE_"


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


def _one_of(*choices: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}")

    return check


@attrs.frozen(kw_only=True)
class RpcConfig:
    """``[rpc]``: how Invokers and Workers behave."""

    timeout: float = attrs.field(default=60.0, validator=_positive)
    max_concurrency: int = attrs.field(default=64, validator=_positive)
    at_least_once: bool = False
    durable_queues: bool = False
    max_message_bytes: int = attrs.field(default=4 * 1024 * 1024, validator=_positive)
    exchange: str = "nova"


@attrs.frozen(kw_only=True)
class LoggingConfig:
    """``[logging]``: structured logs as JSON lines or for a console."""

    format: str = attrs.field(default="console", validator=_one_of("console", "json"))
    level: str = attrs.field(
        default="info", validator=_one_of("debug", "info", "warning", "error")
    )


@attrs.frozen(kw_only=True)
class Config:
    """All of nova_lite's settings, each with a default that runs on one machine."""

    transport_url: str = "memory://"
    host: str = attrs.field(factory=socket.gethostname)
    state_path: str = ".nova_lite"
    rpc: RpcConfig = attrs.field(factory=RpcConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Self:
        """Defaults, then the TOML file at `path`, then the environment, then `overrides`."""
        data: dict[str, Any] = {}
        source = "defaults"
        if path is not None:
            source = str(path)
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"Configuration file {source} does not exist.") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        config = _build(cls, data, source)
        env = _from_environ(cls, os.environ if environ is None else environ)
        if env:
            config = _build(cls, _merge(attrs.asdict(config), env), "environment")
        if overrides:
            config = _build(cls, _merge(attrs.asdict(config), overrides), "overrides")
        return config

    def section(self, name: str) -> Any:
        """The settings object of section `name`."""
        return getattr(self, name)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sections(cls: type) -> dict[str, type]:
    return {name: tp for name, tp in _field_types(cls).items() if attrs.has(tp)}


def _build(cls: type, data: Mapping[str, Any], source: str, section: str = "") -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [{section}] must be a table, not {data!r}.")
    types_ = _field_types(cls)
    values: dict[str, Any] = {}
    for key, raw in data.items():
        where = f"{section}.{key}" if section else key
        if key not in types_:
            known = ", ".join(sorted(types_))
            raise ConfigError(f"{source}: unknown key {where!r}; known keys here: {known}.")
        tp = types_[key]
        if attrs.has(tp):
            values[key] = raw if isinstance(raw, tp) else _build(tp, raw, source, where)
        else:
            values[key] = _coerce(tp, raw, source, where)
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        bad = _which_key(cls, values)
        raise ConfigError(f"{source}: {bad}: {exc}.") from None


def _which_key(cls: type, values: Mapping[str, Any]) -> str:
    for attribute in attrs.fields(cls):
        if attribute.name in values and attribute.validator is not None:
            try:
                attribute.validator(None, attribute, values[attribute.name])
            except (ValueError, TypeError):
                return f"{attribute.name} = {values[attribute.name]!r}"
    return "invalid value"


def _coerce(tp: Any, raw: Any, source: str, where: str) -> Any:
    """Convert `raw` (from TOML or an environment string) to the field type `tp`."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        if raw is None or raw == "":
            return None
        tp = next(t for t in typing.get_args(tp) if t is not type(None))
    try:
        if tp is bool:
            return _to_bool(raw)
        if tp in (int, float):
            if isinstance(raw, bool):
                raise ValueError
            return tp(raw)
        if tp is str:
            if not isinstance(raw, str):
                raise ValueError
            return raw
        if typing.get_origin(tp) in (tuple, list):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
    except (ValueError, TypeError):
        pass
    else:
        return raw
    name = getattr(tp, "__name__", str(tp))
    raise ConfigError(f"{source}: {where} = {raw!r} is not a valid {name}.")


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _from_environ(cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``NOVA_LITE_*`` variables that name a configuration key, as nested data."""
    top = {k for k, tp in _field_types(cls).items() if not attrs.has(tp)}
    sections = _sections(cls)
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in top:
            found[key] = value
            continue
        for section, section_cls in sections.items():
            sub = key.removeprefix(section + "_")
            if sub != key and sub in {f.name for f in attrs.fields(section_cls)}:
                found.setdefault(section, {})[sub] = value
    return found
