"""Configuration loading: defaults, TOML, environment, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from nova_lite.config import (
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIXES,
    Config,
    environment_variables,
    is_reserved_variable,
)
from nova_lite.exceptions import ConfigError


def test_defaults_run_on_one_machine() -> None:
    """With nothing configured, the transport is the in-memory broker."""
    config = Config.load(environ={})
    assert config.transport_url == "memory://" and config.rpc.timeout == 60.0


def test_toml_file_then_environment_then_overrides(tmp_path: Path) -> None:
    """Each layer overrides the one before: file, NOVA_LITE_* variables, keyword overrides."""
    path = tmp_path / "nova.toml"
    path.write_text('transport_url = "amqp://a/"\n[rpc]\ntimeout = 5\nmax_concurrency = 8\n')
    env = {"NOVA_LITE_RPC_TIMEOUT": "7.5", "NOVA_LITE_LOGGING_FORMAT": "json", "OTHER": "x"}
    config = Config.load(path, environ=env, host="h9")
    assert config.transport_url == "amqp://a/"
    assert (config.rpc.timeout, config.rpc.max_concurrency) == (7.5, 8)
    assert config.logging.format == "json" and config.host == "h9"


def test_swapping_the_transport_is_one_variable() -> None:
    """NOVA_LITE_TRANSPORT_URL alone switches the deployment to RabbitMQ."""
    config = Config.load(environ={"NOVA_LITE_TRANSPORT_URL": "amqp://guest:guest@127.0.0.1/"})
    assert config.transport_url.startswith("amqp://")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("transport_urll = 'x'", "unknown key 'transport_urll'"),
        ("[rpc]\ntimeout = 'soon'", "rpc.timeout = 'soon' is not a valid float"),
        ("[rpc]\ntimeout = -1", "timeout = -1"),
        ("[logging]\nformat = 'xml'", "format = 'xml'"),
        (
            "[notifications]\nnotify_on_state_change = 'vm_state'",
            "notify_on_state_change = 'vm_state'",
        ),
        ("rpc = 3", r"\[rpc\] must be a table"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    """Errors name the file, the key and the bad value."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        Config.load(path, environ={})
    assert str(path) in str(caught.value)


def test_bad_environment_value_names_the_variable() -> None:
    """A bad environment value is reported with the variable that set it."""
    message = r"environment variable NOVA_LITE_RPC_AT_LEAST_ONCE: rpc\.at_least_once = 'maybe'"
    with pytest.raises(ConfigError, match=message):
        Config.load(environ={"NOVA_LITE_RPC_AT_LEAST_ONCE": "maybe"})


def test_out_of_range_environment_value_names_the_variable() -> None:
    """A value the option's own validator refuses names the variable, the key and the value."""
    message = r"environment variable NOVA_LITE_RPC_TIMEOUT: rpc\.timeout = -3\.0: must be greater"
    with pytest.raises(ConfigError, match=message):
        Config.load(environ={"NOVA_LITE_RPC_TIMEOUT": "-3"})


def test_unknown_toml_key_suggests_the_closest() -> None:
    """A misspelt key in a section gets a did-you-mean and the section's keys."""
    with pytest.raises(ConfigError, match=r"unknown key 'rpc\.timout'\. Did you mean 'timeout'\?"):
        Config.load(environ={}, rpc={"timout": 1})


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("NOVA_LITE_RPC_TIMOUT", "NOVA_LITE_RPC_TIMEOUT"),
        ("NOVA_LITE_rpc_timeout", "NOVA_LITE_RPC_TIMEOUT"),
        ("NOVA_LITE_TRANSPORT", "NOVA_LITE_TRANSPORT_URL"),
        ("NOVA_LITE_COMPUTE_DRIVERS", "NOVA_LITE_COMPUTE_DRIVER"),
        ("NOVA_LITE_FAKEDRIVER_VCPUS", "NOVA_LITE_FAKE_DRIVER_VCPUS"),
        ("NOVA_LITE_XYZ", None),
    ],
)
def test_unknown_nova_lite_variable_is_an_error(name: str, suggestion: str | None) -> None:
    """A NOVA_LITE_* variable that is no option (and not reserved) fails, with a did-you-mean."""
    with pytest.raises(ConfigError, match=f"environment variable {name} is not a nova_lite option"):
        Config.load(environ={name: "1"})
    try:
        Config.load(environ={name: "1"})
    except ConfigError as exc:
        if suggestion is None:
            assert "Did you mean" not in str(exc)
        else:
            assert f"Did you mean {suggestion}?" in str(exc)


def test_other_variables_are_not_ours() -> None:
    """Variables without the NOVA_LITE_ prefix (any letter case) are ignored."""
    assert Config.load(environ={"nova_lite_rpc_timout": "x", "NOVA_LITEX": "y", "PATH": "/"})


def test_reserved_variables_are_not_options() -> None:
    """The tools' NOVA_LITE_* variables load without error and change nothing."""
    reserved = {name: "whatever" for name in RESERVED_ENV_NAMES}
    reserved |= {f"{prefix}ANYTHING_AT_ALL": "1" for prefix in RESERVED_ENV_PREFIXES}
    reserved |= {"NOVA_LITE_TEST_AMQP_URL": "amqp://x/", "NOVA_LITE_TEST_RABBITMQ_BIN": "/x"}
    assert Config.load(environ=reserved, host="h") == Config.load(environ={}, host="h")
    assert all(is_reserved_variable(name) for name in reserved)


def test_no_reserved_name_hides_an_option() -> None:
    """No option's variable is reserved, so every option can be set from the environment."""
    options = environment_variables(Config)
    assert not [name for name in options if is_reserved_variable(name)]
    values = [getattr(Config(host="h"), field.name) for field in attrs.fields(Config)]
    assert len(options) == sum(
        len(attrs.fields(type(v))) if attrs.has(type(v)) else 1 for v in values
    )


_MENTION = re.compile(r"\bNOVA_LITE_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_*<])")
_DEFINING = ("test_config.py", "config_reader.py")  # where the names are defined or misspelt
_SCANNED = ("nova_lite", "tests", "scripts", "benchmarks", ".ci", "etc", "examples", "drivers")


def _mentions() -> dict[str, str]:
    """Every NOVA_LITE_* variable named in the project's files, with one file naming it."""
    root = Path(__file__).parent.parent
    found: dict[str, str] = {}
    files = [root / "README.md", root / "ARCHITECTURE.md", root / "pyproject.toml"]
    files += [p for d in _SCANNED for p in (root / d).rglob("*") if p.is_file()]
    for path in files:
        if path.suffix in (".pyc", ".sqlite", ".png") or path.name in _DEFINING:
            continue
        for name in _MENTION.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, str(path.relative_to(root)))
    return found


def test_every_variable_the_project_uses_is_an_option_or_reserved() -> None:
    """The tests, tools and docs use only NOVA_LITE_* names that Config accepts."""
    mentions = _mentions()
    assert {"NOVA_LITE_TEST_AMQP_URL", "NOVA_LITE_CONFIG", "NOVA_LITE_TRANSPORT_URL"} <= set(
        mentions
    )
    options = environment_variables(Config)
    unknown = {
        n: f for n, f in mentions.items() if n not in options and not is_reserved_variable(n)
    }
    assert not unknown, f"NOVA_LITE_* names that Config.load would refuse: {unknown}"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A configuration path that does not exist says so."""
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "nope.toml", environ={})


def test_sample_file_documents_every_option() -> None:
    """etc/nova-lite.sample.toml loads, and names every key of every section."""
    import tomllib

    sample = Path(__file__).parent.parent / "etc" / "nova-lite.sample.toml"
    Config.load(sample, environ={})
    text = sample.read_text()
    data = tomllib.loads(text)
    for field in attrs.fields(Config):
        if attrs.has(field.type if isinstance(field.type, type) else type(None)):
            continue
        section = getattr(Config(), field.name)
        if attrs.has(type(section)):
            assert field.name in data, f"[{field.name}] missing from the sample"
            for sub in attrs.fields(type(section)):
                assert sub.name in data[field.name], f"{field.name}.{sub.name} missing"
        else:
            assert f"{field.name} =" in text, f"{field.name} missing from the sample"
