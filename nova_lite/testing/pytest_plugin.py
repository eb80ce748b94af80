"""pytest fixtures over `nova_lite.testing`: brokers, clouds and harnesses for every test.

Enable it in your project's root ``conftest.py`` (pytest reads ``pytest_plugins``
there only)::

    pytest_plugins = ["nova_lite.testing.pytest_plugin"]

or for one run, ``pytest -p nova_lite.testing.pytest_plugin``. nova_lite registers no
``pytest11`` entry point: an entry point would load into every pytest run of every
environment nova_lite is installed in, importing it and adding generic fixture
names (``broker``, ``transport``) to projects that never asked for them.

The fixtures:

- `broker`: a `TransportFactory`, parametrized: each test that uses it runs on the
  in-memory broker, then on RabbitMQ.
- `transport`: one connected transport to the `broker`.
- `rabbitmq_url`: the test RabbitMQ's URL (``NOVA_LITE_TEST_AMQP_URL``, default
  ``amqp://guest:guest@127.0.0.1:5672/``). When no broker answers there, the
  RabbitMQ runs are skipped, or fail if the environment has ``CI=true``.
- `clouds`: a `CloudFactory` on the `broker`, cheap password hashes for the test.
- `memory_clouds`: a `CloudFactory` on an in-memory broker only.
- `harness`: a `CloudHarness` of two fake hosts on `clouds` (so on both brokers).
- `log_events`: the test's log events, as `capture_logs` captures them.
- `private_rabbitmq`: a `PrivateRabbitMQ`, a RabbitMQ node of the test's own (own
  name, ports and data) that the test may stop, restart and kill; stopped after
  the test. Skipped when the RabbitMQ server is not installed, or fails with
  ``CI=true``.
- `private_broker`: a `TransportFactory` on that node.

The async fixtures are pytest-asyncio's, so they work in its strict mode as in its
auto mode. This is the only module of nova_lite that imports pytest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from nova_lite.identity import manager as identity_manager
from nova_lite.testing.brokers import TransportFactory, amqp_url, broker_answers
from nova_lite.testing.clouds import FAST_HASHES, WAIT, CloudFactory
from nova_lite.testing.harness import CloudHarness
from nova_lite.testing.logs import capture_logs
from nova_lite.testing.rabbitmq_node import PrivateRabbitMQ
from nova_lite.transport import Transport

__all__ = [
    "broker",
    "clouds",
    "harness",
    "log_events",
    "memory_clouds",
    "private_broker",
    "private_rabbitmq",
    "rabbitmq_url",
    "transport",
]

CLOSE_TIMEOUT = 30.0  # closing a test's connections and queues on a busy broker


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``rabbitmq`` marker, for tests that need the broker by other means."""
    config.addinivalue_line(
        "markers", "rabbitmq: needs a RabbitMQ broker at NOVA_LITE_TEST_AMQP_URL"
    )


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The test broker's URL; skips (or, with ``CI=true``, fails) when no broker answers."""
    url = amqp_url()
    if not broker_answers(url):
        _missing(f"No RabbitMQ broker answers at {url}")
    return url


def _missing(message: str) -> None:
    """Skip the test for want of `message`; with ``CI=true``, fail it instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: a missing broker is a failure).")
    pytest.skip(message)


@pytest_asyncio.fixture
async def private_rabbitmq(tmp_path: Path) -> AsyncIterator[PrivateRabbitMQ]:
    """A started RabbitMQ node of the test's own, to restart and kill; stopped afterwards."""
    if not PrivateRabbitMQ.available():
        _missing("The RabbitMQ server is not installed, so no private node can start")
    node = PrivateRabbitMQ(tmp_path / "rabbitmq")
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


@pytest_asyncio.fixture
async def private_broker(private_rabbitmq: PrivateRabbitMQ) -> AsyncIterator[TransportFactory]:
    """A `TransportFactory` on the test's private RabbitMQ node."""
    factory = TransportFactory.rabbitmq(private_rabbitmq.url)
    try:
        yield factory
    finally:
        await asyncio.wait_for(factory.aclose(), CLOSE_TIMEOUT)


@pytest_asyncio.fixture(params=["memory", "rabbitmq"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[TransportFactory]:
    """A factory of connections to one broker: the in-memory one, then RabbitMQ."""
    if request.param == "memory":
        factory = TransportFactory.memory()
    else:
        factory = TransportFactory.rabbitmq(request.getfixturevalue("rabbitmq_url"))
    try:
        yield factory
    finally:
        await asyncio.wait_for(factory.aclose(), CLOSE_TIMEOUT)


@pytest_asyncio.fixture
async def transport(broker: TransportFactory) -> Transport:
    """One connected transport to the parametrized broker."""
    return await broker.connect()


@pytest_asyncio.fixture
async def clouds(
    broker: TransportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CloudFactory]:
    """Starts clouds on the parametrized broker; all are stopped after the test.

    Passwords are hashed with cheap scrypt parameters throughout the test, so logins
    take milliseconds.
    """
    monkeypatch.setattr(identity_manager, "DEFAULT_PARAMS", FAST_HASHES)
    factory = CloudFactory(broker, tmp_path)
    try:
        yield factory
    finally:
        await asyncio.wait_for(factory.aclose(), WAIT)


@pytest_asyncio.fixture
async def memory_clouds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CloudFactory]:
    """Starts clouds on an in-memory broker only, for tests that need no second run."""
    monkeypatch.setattr(identity_manager, "DEFAULT_PARAMS", FAST_HASHES)
    async with CloudFactory.memory(tmp_path) as factory:
        yield factory


@pytest_asyncio.fixture
async def harness(clouds: CloudFactory) -> CloudHarness:
    """A cloud of two fake hosts on the parametrized broker, driven through a harness."""
    return await CloudHarness.start(clouds, computes=2)


@pytest.fixture
def log_events() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event of the test, processed as nova_lite's processors do, not printed."""
    with capture_logs() as events:
        yield events
