"""Configuration values are read strictly: each option type by bad values, from TOML and the
environment, and Hypothesis' proof that no wrongly typed TOML value is coerced."""

from __future__ import annotations

import datetime
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nova_lite.config import BOOL_SPELLINGS, Config, environment_variables
from nova_lite.exceptions import ConfigError

# Deterministic in CI, exploring locally: the profiles in tests/conftest.py.
STRICT = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)

# One option of each type: (section, key); "" is the top level.
INT = ("rpc", "max_concurrency")
FLOAT = ("rpc", "timeout")
BOOL = ("rpc", "at_least_once")
STR = ("", "transport_url")
NAMES = ("scheduler", "weighers")


def toml_literal(value: Any) -> str:
    """`value` written as a TOML value (the inverse of what tomllib reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        escaped = "".join(
            "\\" + ch if ch in '"\\' else f"\\u{ord(ch):04x}" if ch < " " or ch == "\x7f" else ch
            for ch in value
        )
        return f'"{escaped}"'
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_literal(k)} = {toml_literal(v)}" for k, v in value.items()) + "}"


def toml_file(directory: Path, option: tuple[str, str], value: Any) -> Path:
    """A configuration file setting `option` to `value`, checked to say exactly that."""
    section, key = option
    text = f"{key} = {toml_literal(value)}\n"
    text = f"[{section}]\n{text}" if section else text
    path = directory / "nova.toml"
    path.write_text(text, encoding="utf-8")
    data = tomllib.loads(text)
    read = data[section][key] if section else data[key]
    assert toml_literal(read) == toml_literal(value), "the test wrote another value"
    return path


def where(option: tuple[str, str]) -> str:
    section, key = option
    return f"{section}.{key}" if section else key


def variable(option: tuple[str, str]) -> str:
    return "NOVA_LITE_" + "_".join(part for part in option if part).upper()


def current(config: Config, option: tuple[str, str]) -> Any:
    section, key = option
    return getattr(getattr(config, section) if section else config, key)


# -- TOML: each type, bad values ------------------------------------------------------------


def _each(*values: Any) -> tuple[Any, ...]:
    """The values as they are (their types vary on purpose)."""
    return values


BAD_TOML: list[tuple[tuple[str, str], Any]] = [
    *[
        (INT, v)
        for v in _each(1.9, 2.0, "2", True, False, [1], {"a": 1}, datetime.date(2020, 1, 1))
    ],
    *[(FLOAT, v) for v in _each("1.5", "60", True, math.nan, math.inf, -math.inf, [1.0], {})],
    (FLOAT, 2**53 + 1),  # an integer that a float would round
    *[(BOOL, v) for v in _each(1, 0, "true", "yes", "on", 1.0, [True])],
    *[(STR, v) for v in _each(1, 1.5, True, ["memory://"], {"url": "x"}, datetime.time(7, 30))],
    *[
        (NAMES, v)
        for v in _each("RAMWeigher", "RAMWeigher,CPUWeigher", [1], ["RAMWeigher", 2], [""])
    ],
    *[(NAMES, v) for v in _each([" "], {"a": "b"}, True)],
]


@pytest.mark.parametrize(("option", "value"), BAD_TOML)
def test_toml_value_of_the_wrong_type_is_refused(
    tmp_path: Path, option: tuple[str, str], value: Any
) -> None:
    """The error names the file, the key, the value as written, and what was expected."""
    path = toml_file(tmp_path, option, value)
    with pytest.raises(ConfigError) as caught:
        Config.load(path, environ={})
    message = str(caught.value)
    assert message.startswith(f"{path}: {where(option)} = ")
    assert "is not a valid" in message and "; expected " in message
    assert toml_literal(value) in message or repr(value) in message


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5.0), (0.25, 0.25), (10**6, 1e6)], ids=["int", "float", "big"]
)
def test_float_options_accept_integers(tmp_path: Path, value: Any, expected: float) -> None:
    """A float option takes a TOML integer, as a float."""
    config = Config.load(toml_file(tmp_path, FLOAT, value), environ={})
    assert config.rpc.timeout == expected and type(config.rpc.timeout) is float


def test_keyword_overrides_are_as_strict_as_toml() -> None:
    """Config.load(rpc={...}) refuses a value of the wrong type instead of converting it."""
    with pytest.raises(ConfigError, match=r"^overrides: rpc\.max_concurrency = 1\.9 is not"):
        Config.load(environ={}, rpc={"max_concurrency": 1.9})


# -- the environment: each type, bad text -------------------------------------------------

BAD_TEXT: list[tuple[tuple[str, str], str]] = [
    *[(INT, t) for t in ("1.9", "2.0", " 2", "2 ", "0x10", "1_000", "", "two", "+", "٢", "1e3")],
    *[(FLOAT, t) for t in ("", "soon", "nan", "inf", "-inf", "1,5", " 1", "1.5s", "0x1p3")],
    *[(BOOL, t) for t in ("", "maybe", "2", "y", "tru", " true", "t", "enabled", "-1")],
]


@pytest.mark.parametrize(("option", "text"), BAD_TEXT)
def test_environment_text_that_does_not_spell_the_type_is_refused(
    option: tuple[str, str], text: str
) -> None:
    """The error names the variable, the key, the text and what was expected."""
    name = variable(option)
    with pytest.raises(ConfigError) as caught:
        Config.load(environ={name: text})
    message = str(caught.value)
    assert message.startswith(f"environment variable {name}: {where(option)} = {text!r} is not")
    assert "; expected " in message


def test_a_bad_boolean_lists_the_spellings() -> None:
    """The error for a bad boolean variable lists every accepted spelling."""
    with pytest.raises(ConfigError) as caught:
        Config.load(environ={"NOVA_LITE_RPC_DURABLE_QUEUES": "maybe"})
    assert all(spelling in str(caught.value) for spelling in BOOL_SPELLINGS)


@pytest.mark.parametrize(
    ("option", "text", "expected"),
    [
        (("quota", "instances"), "-1", -1),
        (INT, "+8", 8),
        (INT, "0064", 64),
        (FLOAT, "2", 2.0),
        (FLOAT, "2.5", 2.5),
        (FLOAT, ".5", 0.5),
        (FLOAT, "1e3", 1000.0),
        (STR, "", ""),
        (NAMES, "RAMWeigher, CPUWeigher,", ("RAMWeigher", "CPUWeigher")),
        (NAMES, "", ()),
        *[(BOOL, spelling, value) for spelling, value in BOOL_SPELLINGS.items()],
        *[(BOOL, spelling.upper(), value) for spelling, value in BOOL_SPELLINGS.items()],
        (BOOL, "True", True),
    ],
)
def test_environment_text_that_spells_the_type_is_read(
    option: tuple[str, str], text: str, expected: Any
) -> None:
    """Integer literals, decimal numbers and the documented boolean spellings are read."""
    value = current(Config.load(environ={variable(option): text}), option)
    assert value == expected and type(value) is type(expected)


def test_every_option_can_be_set_from_its_variable() -> None:
    """Each option's default, spelt as its variable's text, loads back as the same value."""
    defaults = Config(host="h")
    environ: dict[str, str] = {}
    for name, path in environment_variables(Config).items():
        value = current(defaults, (path[0], path[1]) if len(path) == 2 else ("", path[0]))
        if isinstance(value, bool):
            environ[name] = "true" if value else "false"
        elif isinstance(value, tuple):
            environ[name] = ",".join(value)
        else:
            environ[name] = str(value)
    assert Config.load(environ=environ) == defaults


# -- Hypothesis: no wrongly typed TOML value is coerced --------------------------------------


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the examples' configuration files (each rewrites nova.toml)."""
    return tmp_path_factory.mktemp("config")


OPTIONS: list[tuple[str, str]] = [
    (path[0], path[1]) if len(path) == 2 else ("", path[0])
    for path in environment_variables(Config).values()
]

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
scalars = [
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    text,
    st.dates(),
    st.datetimes(),
    st.times(),
]
# Each kind of TOML value about equally often (st.recursive would draw mostly arrays).
toml_values = st.one_of(
    *scalars,
    st.lists(st.one_of(*scalars), max_size=3),
    st.dictionaries(text, st.one_of(*scalars), max_size=2),
)


def is_of_type(value: Any, example: Any) -> bool:
    """Whether `value` is exactly of the type of the option whose default is `example`."""
    if isinstance(example, bool):
        return isinstance(value, bool)
    if isinstance(example, int):
        return type(value) is int
    if isinstance(example, float):
        exact = type(value) is float or (type(value) is int and int(float(value)) == value)
        return exact and math.isfinite(value)
    if isinstance(example, str):
        return isinstance(value, str)
    assert isinstance(example, tuple)
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


@STRICT
@given(option=st.sampled_from(OPTIONS), value=toml_values)
def test_any_wrongly_typed_toml_value_is_a_config_error(
    config_dir: Path, option: tuple[str, str], value: Any
) -> None:
    """Every option refuses every TOML value not of its type with a ConfigError naming it."""
    assume(not is_of_type(value, current(Config(host="h"), option)))
    path = toml_file(config_dir, option, value)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {where(option)} = ")):
        Config.load(path, environ={})


def values_of_type(example: Any) -> st.SearchStrategy[Any]:
    """TOML values of the type of the option whose default is `example`."""
    if isinstance(example, bool):
        return st.booleans()
    if isinstance(example, int):
        return st.integers(-(2**63), 2**63 - 1)
    if isinstance(example, float):
        return st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(example, str):
        return text
    return st.lists(text.filter(str.strip), max_size=4)


@STRICT
@given(option=st.sampled_from(OPTIONS), data=st.data())
def test_a_rightly_typed_toml_value_is_kept_as_written(
    config_dir: Path, option: tuple[str, str], data: st.DataObject
) -> None:
    """A value of the option's type loads unchanged, or only the option's own range refuses it."""
    example = current(Config(host="h"), option)
    value = data.draw(values_of_type(example))
    assert is_of_type(value, example)
    path = toml_file(config_dir, option, value)
    try:
        config = Config.load(path, environ={})
    except ConfigError as exc:
        assert f"{where(option)} = " in str(exc) and "is not a valid" not in str(exc)
        return
    loaded = current(config, option)
    assert loaded == (tuple(value) if isinstance(example, tuple) else value)
    assert type(loaded) is type(example)


@STRICT
@given(text=st.text(max_size=8) | st.from_regex(r"[+-]?[0-9]{1,20}", fullmatch=True))
def test_an_integer_variable_must_be_an_integer_literal(text: str) -> None:
    """An int option's variable is read only when it is exactly an integer literal."""
    environ = {"NOVA_LITE_QUOTA_INSTANCES": text}
    if re.fullmatch(r"[+-]?[0-9]+", text, flags=re.ASCII):
        assert Config.load(environ=environ).quota.instances == int(text)
    else:
        with pytest.raises(ConfigError, match="NOVA_LITE_QUOTA_INSTANCES"):
            Config.load(environ=environ)


def test_the_options_cover_every_type() -> None:
    """The property tests above sample options of every type there is."""
    kinds = {type(current(Config(host="h"), option)) for option in OPTIONS}
    assert kinds == {bool, int, float, str, tuple}
    assert attrs.has(Config)
