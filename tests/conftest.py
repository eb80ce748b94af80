"""Shared fixtures: one `transport` parametrized over the in-memory broker and RabbitMQ.

RabbitMQ tests run whenever a broker answers at ``NOVA_LITE_TEST_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/``). With ``CI=true`` an unreachable broker fails
the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

from nova_lite.loader import get_transport
from nova_lite.transport import Transport
from transports.memory import MemoryBroker, MemoryTransport

pytest_plugins = ["tests.cloud_fixtures"]

AMQP_URL = os.environ.get("NOVA_LITE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _broker_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The test broker's URL; skips (or, in CI, fails) when no broker answers."""
    if not _broker_answers(AMQP_URL):
        message = f"No RabbitMQ broker answers at {AMQP_URL}"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing broker is a failure).")
        pytest.skip(message)
    return AMQP_URL


class TransportFactory:
    """Opens connections to one broker for one test, and tidies up after it.

    Every connection it opens talks to the same broker (one `MemoryBroker` for the
    in-memory kind), so a test can play several processes. Queues the test declared
    are deleted at the end, keeping a shared RabbitMQ clean.
    """

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url
        self.uid = uuid.uuid4().hex[:10]
        self.memory_broker = MemoryBroker() if kind == "memory" else None
        self._opened: list[Transport] = []
        self._queues: set[str] = set()

    def name(self, prefix: str) -> str:
        """A name unique to this test, for exchanges, topics and queues."""
        return f"{prefix}-{self.uid}"

    def rpc_options(self) -> dict[str, str]:
        """``[rpc]`` settings that isolate this test's exchanges and queues on the broker."""
        return {"exchange": self.name("nova"), "queue_prefix": self.name("t") + "."}

    def build(self) -> Transport:
        """A new, unconnected transport to this test's broker."""
        if self.memory_broker is not None:
            transport: Transport = MemoryTransport(self.url, broker=self.memory_broker)
        else:
            transport = get_transport(self.url)
        self._track(transport)
        self._opened.append(transport)
        return transport

    async def connect(self) -> Transport:
        """A new, connected transport to this test's broker."""
        transport = self.build()
        await transport.connect()
        return transport

    def _track(self, transport: Transport) -> None:
        declare = transport.declare_queue

        async def declare_and_remember(name: str | None = None, **options: object) -> str:
            declared = await declare(name, **options)  # type: ignore[arg-type]
            self._queues.add(declared)
            return declared

        transport.declare_queue = declare_and_remember  # type: ignore[method-assign]

    async def aclose(self) -> None:
        for transport in self._opened:
            await transport.close()
        if self.kind == "rabbitmq" and self._queues:
            async with get_transport(self.url) as cleaner:
                for queue in self._queues:
                    await cleaner.delete_queue(queue)


@pytest.fixture(params=["memory", "rabbitmq"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[TransportFactory]:
    """A factory of connections to one broker: the in-memory one, then RabbitMQ."""
    if request.param == "memory":
        factory = TransportFactory("memory", "memory://")
    else:
        factory = TransportFactory("rabbitmq", request.getfixturevalue("rabbitmq_url"))
    try:
        yield factory
    finally:
        await asyncio.wait_for(factory.aclose(), 30)


@pytest.fixture
async def transport(broker: TransportFactory) -> Transport:
    """One connected transport to the parametrized broker."""
    return await broker.connect()


# -- no secret in any log line of the whole suite ---------------------------------

_SECRETS: set[str] = set()
_LOG_LINES: list[str] = []
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def _remember_log_line(logger: object, method: str, event_dict: Any) -> Any:
    _LOG_LINES.append(repr(event_dict))
    return event_dict


@pytest.fixture(scope="session", autouse=True)
def _watch_for_secrets_in_logs() -> Iterator[None]:
    """Record every password hashed or checked, every token issued, the broker password of
    every configuration made, and every log event."""
    from nova_lite.config import Config
    from nova_lite.identity import passwords, tokens

    config_init = Config.__init__

    def config_init_and_remember(self: Config, *args: Any, **kwargs: Any) -> None:
        config_init(self, *args, **kwargs)
        parts = urlsplit(self.transport_url)
        # The test broker's "guest" is also its user name, which logs may show.
        if parts.password and len(parts.password) >= 6 and parts.password != parts.username:
            _SECRETS.add(parts.password)

    Config.__init__ = config_init_and_remember  # type: ignore[method-assign]

    scrypt, digest = passwords._scrypt, tokens._digest

    def scrypt_and_remember(password: str, *args: Any) -> bytes:
        if len(password) >= 6:  # shorter test passwords would match by accident
            _SECRETS.add(password)
        return scrypt(password, *args)

    def digest_and_remember(token: str) -> str:
        _SECRETS.add(token)
        return digest(token)

    passwords._scrypt = scrypt_and_remember  # type: ignore[assignment]
    tokens._digest = digest_and_remember  # type: ignore[assignment]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _remember_log_line,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    )
    _TEST_LOGGING.update(structlog.get_config())
    yield
    passwords._scrypt, tokens._digest = scrypt, digest
    Config.__init__ = config_init  # type: ignore[method-assign]


_TEST_LOGGING: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo any logging set-up a test made (the CLI and benchmarks configure structlog)."""
    yield
    if _TEST_LOGGING:
        structlog.configure(**_TEST_LOGGING)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any recorded password or token appears in a log event."""
    if not _LOG_LINES:
        return
    text = "\n".join(_LOG_LINES)
    tokens = {t for t in _SECRETS if len(t) == 43}
    leaked = set(_TOKEN_SHAPE.findall(text)) & tokens
    leaked |= {p for p in _SECRETS - tokens if p in text}
    if leaked:
        print(f"\n{len(leaked)} secret(s) appeared in log lines: {sorted(leaked)[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
