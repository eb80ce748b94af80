"""The one place that turns plugin names into classes.

Built-in transports and hypervisor drivers live in the top-level `transports` and
`drivers` packages. The core never imports them at module level: it names them here
as ``"module:Class"`` strings and imports one only when it is chosen, so aio-pika or
libvirt-python are loaded only by the deployments that use them. Third-party
plugins register under the entry-point groups ``nova_lite.transports`` and
``nova_lite.drivers`` and load the same way.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from nova_lite.exceptions import PluginNotFound

if TYPE_CHECKING:
    from nova_lite.config import Config
    from nova_lite.transport import Transport
    from nova_lite.virt.driver import ComputeDriver

__all__ = [
    "BUILTIN_DRIVERS",
    "BUILTIN_TRANSPORTS",
    "get_transport",
    "load_driver_for_host",
    "load_plugin",
]

BUILTIN_TRANSPORTS: Final[dict[str, str]] = {
    "memory": "transports.memory:MemoryTransport",
    "amqp": "transports.rabbitmq:RabbitMQTransport",
    "amqps": "transports.rabbitmq:RabbitMQTransport",
    "rabbit": "transports.rabbitmq:RabbitMQTransport",
}

BUILTIN_DRIVERS: Final[dict[str, str]] = {
    "fake": "drivers.fake:FakeDriver",
    "libvirt": "drivers.libvirt:LibvirtDriver",
}

_EXTRAS: Final[dict[str, str]] = {"aio_pika": "rabbitmq", "libvirt": "libvirt"}


def _known(group: str, builtins: dict[str, str]) -> dict[str, str]:
    known = dict(builtins)
    for name, value in _entry_points(group):
        known.setdefault(name, value)
    return known


@functools.cache
def _entry_points(group: str) -> tuple[tuple[str, str], ...]:
    """The installed plugins of a group (scanning installed packages is slow: once)."""
    return tuple((ep.name, ep.value) for ep in entry_points(group=group))


def _import(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        extra = _EXTRAS.get(missing)
        if extra is None:
            raise
        raise PluginNotFound(
            f"{spec} needs the Python package {missing!r}, which is not installed; "
            f"install it with: pip install 'nova-lite[{extra}]'"
        ) from exc
    return getattr(module, attr)


def load_plugin(kind: str, name: str) -> Any:
    """Return the class registered as `name` for `kind` (``"transport"`` or ``"driver"``).

    Unknown names raise `PluginNotFound` listing the known ones and the closest match.
    """
    group, builtins = {
        "transport": ("nova_lite.transports", BUILTIN_TRANSPORTS),
        "driver": ("nova_lite.drivers", BUILTIN_DRIVERS),
    }[kind]
    known = _known(group, builtins)
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PluginNotFound(
            f"Unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known))}.{hint}"
        )
    return _import(known[name])


def get_transport(url: str, **options: Any) -> Transport:
    """Build (without connecting) the transport that `url`'s scheme names.

    ``memory://`` is the in-process broker, ``amqp://user:pass@host:port/vhost`` (alias
    ``rabbit://``) is RabbitMQ. Options are passed to the transport's constructor.
    """
    scheme = urlsplit(url).scheme
    if not scheme or "://" not in url:
        raise PluginNotFound(
            f"Transport URL {url!r} has no scheme; use e.g. 'memory://' or "
            "'amqp://guest:guest@127.0.0.1:5672/'."
        )
    cls = load_plugin("transport", scheme)
    transport: Transport = cls(url, **options)
    return transport


def load_driver_for_host(config: Config, host: str) -> ComputeDriver:
    """Build the hypervisor driver ``[compute] driver`` names, for one host.

    Driver classes build themselves with ``from_config(config, host)``.
    """
    driver: ComputeDriver = load_plugin("driver", config.compute.driver).from_config(config, host)
    return driver
