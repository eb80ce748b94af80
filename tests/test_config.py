"""Configuration loading: defaults, TOML, environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_lite.config import Config
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


def test_bad_environment_value_names_the_source() -> None:
    """A bad environment value is reported as coming from the environment."""
    with pytest.raises(ConfigError, match=r"environment: rpc\.at_least_once = 'maybe'"):
        Config.load(environ={"NOVA_LITE_RPC_AT_LEAST_ONCE": "maybe"})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A configuration path that does not exist says so."""
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "nope.toml", environ={})


def test_sample_file_documents_every_option() -> None:
    """etc/nova-lite.sample.toml loads, and names every key of every section."""
    import tomllib

    import attrs

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
