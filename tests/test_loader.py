"""Plugin loading: transports by URL scheme, with helpful errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nova_lite.exceptions import PluginNotFound
from nova_lite.loader import get_transport, load_plugin
from transports.memory import MemoryTransport


def test_memory_url_builds_an_unconnected_memory_transport() -> None:
    """get_transport('memory://') does no I/O and returns the in-memory transport."""
    transport = get_transport("memory://")
    assert isinstance(transport, MemoryTransport) and not transport.is_connected


def test_unknown_scheme_lists_the_known_ones_and_suggests() -> None:
    """A typo in the scheme names the known transports and the closest one."""
    with pytest.raises(PluginNotFound, match=r"known transports: amqp.*Did you mean 'amqp'"):
        get_transport("amqq://host/")


def test_url_without_scheme_is_refused() -> None:
    """A URL with no scheme is refused with an example of a good one."""
    with pytest.raises(PluginNotFound, match="no scheme"):
        get_transport("localhost:5672")


def test_unknown_driver_is_refused() -> None:
    """Drivers load through the same loader and refuse unknown names the same way."""
    with pytest.raises(PluginNotFound, match=r"Unknown driver 'fak'.*Did you mean 'fake'"):
        load_plugin("driver", "fak")


def test_core_import_does_not_load_plugins() -> None:
    """Importing nova_lite loads neither pytest, aio-pika nor any transport or driver module."""
    code = (
        "import sys, nova_lite, nova_lite.rpc;"
        "bad = [m for m in sys.modules if m.split('.')[0] in"
        " ('pytest', '_pytest', 'aio_pika', 'aiormq', 'transports', 'drivers', 'libvirt')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
