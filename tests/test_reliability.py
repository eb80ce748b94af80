"""Reliability: garbage on the bus, duplicates, backlogs, bad files, unsafe SQL.

The RPC fuzzing runs hypothesis against the in-memory broker (hundreds of examples
in a second); the same generated garbage is then replayed once against RabbitMQ.
"""

from __future__ import annotations

import ast
import asyncio
import string
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nova_lite import Invoker, RequestContext, Target, Worker
from nova_lite.config import Config
from nova_lite.exceptions import ConfigError
from nova_lite.rpc import endpoint, envelope
from nova_lite.testing import TransportFactory, assert_audit_clean
from nova_lite.transport import Message, Transport
from transports.memory import MemoryTransport

WAIT = 15.0
ROOT = Path(__file__).resolve().parent.parent


class Counter:
    """An endpoint that counts the casts it receives, by value."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.changed = asyncio.Event()

    @endpoint
    async def note(self, ctx: RequestContext, n: int) -> None:
        self.seen.append(n)
        self.changed.set()

    @endpoint
    async def ping(self, ctx: RequestContext) -> str:
        return "pong"

    async def wait_for_count(self, count: int) -> None:
        while len(self.seen) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), WAIT)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
garbage = st.one_of(
    st.binary(max_size=200),
    json_values.map(orjson.dumps),
    st.dictionaries(
        st.sampled_from(
            [
                "method",
                "args",
                "_msg_id",
                "_reply_q",
                "_context_roles",
                "_context_request_id",
                "version",
                "namespace",
                "_unique_id",
            ]
        ),
        json_values,
    ).map(
        lambda m: orjson.dumps({"oslo.version": "2.0", "oslo.message": orjson.dumps(m).decode()})
    ),
)


async def _serve_garbage(transport: Transport, target: Target, bodies: list[bytes]) -> None:
    """Publish `bodies` to a worker's queue; the worker must still answer afterwards."""
    counter = Counter()
    worker_target = Target(topic=target.topic, server="h1", exchange=target.exchange)
    async with Worker(transport, worker_target, [counter]):
        for body in bodies:
            await transport.publish(target.exchange, target.topic or "", Message(body))
        invoker = Invoker(transport, target, timeout=WAIT)
        assert await invoker.call(RequestContext(), "ping") == "pong"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(garbage, min_size=1, max_size=8))
def test_workers_survive_any_garbage_on_memory(bodies: list[bytes]) -> None:
    """Whatever bytes land on a worker's queue, it keeps answering calls."""

    async def scenario() -> None:
        async with MemoryTransport() as transport:
            await _serve_garbage(transport, Target(topic="fuzz", exchange="fuzz"), bodies)

    asyncio.run(scenario())


async def test_workers_survive_garbage_on_every_broker(broker: TransportFactory) -> None:
    """A fixed sample of malformed messages is rejected on both brokers; calls still work."""
    transport = await broker.connect()
    bodies = [
        b"",
        b"\x00\xff",
        b"[]",
        b"{}",
        b"null",
        b'{"oslo.version": "2.0"}',
        b'{"oslo.version": "2.0", "oslo.message": "{\\"method\\": 3}"}',
        b'{"method": "note", "args": {"n": "not-an-int", "extra": 1}}',
        b'{"method": "note", "args": []}',
        b'{"method": "__init__", "args": {}}',
        orjson.dumps({"method": "note", "args": {"n": 1}, "_context_roles": "admin"}),
        b"x" * (envelope.DEFAULT_MAX_MESSAGE_BYTES + 1),
    ]
    target = Target(topic=broker.name("fuzz"), exchange=broker.name("nova"))
    await _serve_garbage(transport, target, bodies)


async def test_duplicate_message_ids_are_processed_once(broker: TransportFactory) -> None:
    """A message delivered twice with the same _unique_id is handled once (at-most-once)."""
    transport = await broker.connect()
    target = Target(topic=broker.name("dup"), exchange=broker.name("nova"))
    counter = Counter()
    async with Worker(
        transport, Target(topic=target.topic, server="h1", exchange=target.exchange), [counter]
    ):
        body = envelope.encode_request(
            RequestContext(),
            "note",
            {"n": 1},
            namespace=None,
            version=None,
            unique_id="same-id",
        )
        for _ in range(3):
            await transport.publish(target.exchange, target.topic or "", Message(body))
        await Invoker(transport, target).cast(RequestContext(), "note", n=2)
        await counter.wait_for_count(2)
        assert await Invoker(transport, target, timeout=WAIT).call(RequestContext(), "ping")
    assert sorted(counter.seen) == [1, 2]


async def test_casts_queued_while_workers_are_down_are_all_processed_once(
    broker: TransportFactory,
) -> None:
    """10,000 casts sent while no worker runs are all handled, each exactly once, later."""
    count = 10_000
    transport = await broker.connect()
    target = Target(topic=broker.name("backlog"), exchange=broker.name("nova"))
    worker_target = Target(topic=target.topic, server="h1", exchange=target.exchange)
    async with Worker(transport, worker_target, [Counter()]):
        pass  # declares the queues, then goes away: the topic queue stays
    invoker = Invoker(transport, target)
    ctx = RequestContext()
    sends = [invoker.cast(ctx, "note", n=n) for n in range(count)]
    for start in range(0, count, 500):
        await asyncio.gather(*sends[start : start + 500])
    counter = Counter()
    async with Worker(transport, worker_target, [counter], max_concurrency=256):
        await counter.wait_for_count(count)
    assert sorted(counter.seen) == list(range(count))


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=string.printable + "é☃", max_size=200)
    | st.builds(
        lambda section, key, value: f"[{section}]\n{key} = {value}\n",
        st.sampled_from(["rpc", "compute", "scheduler", "identity", "quota", "nope"]),
        st.sampled_from(["timeout", "max_attempts", "driver", "token_ttl", "cores", "x"]),
        st.sampled_from(["1", "-5", "0", "1e309", '"text"', "true", "[1, 2]", "{}", '""']),
    )
)
def test_configuration_files_load_or_fail_clearly(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    """Any file content gives a Config or a ConfigError, never another exception."""
    path = tmp_path_factory.mktemp("cfg") / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    try:
        Config.load(path, environ={})
    except ConfigError as exc:
        assert str(path) in str(exc)


def _sql_calls(tree: ast.AST) -> list[ast.Call]:
    names = {"execute", "executemany", "executescript", "fetchone", "fetchall"}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and node.args
    ]


# Formatted SQL that is safe by construction, and why.
_REVIEWED_SQL = {
    "nova_lite/db.py": "migration scripts are code; the version spliced in is an int",
    "nova_lite/network/rows.py": "load_ports' WHERE fragment is a constant at every call site",
}


def test_sql_is_only_built_with_parameters() -> None:
    """No SQL text is formatted from values: f-strings may only splice in constants."""
    offenders = []
    for path in sorted((ROOT / "nova_lite").rglob("*.py")):
        if str(path.relative_to(ROOT)) in _REVIEWED_SQL:
            continue
        for call in _sql_calls(ast.parse(path.read_text())):
            sql = call.args[0]
            if isinstance(sql, ast.JoinedStr):
                parts = [v.value for v in sql.values if isinstance(v, ast.FormattedValue)]
                if all(isinstance(p, ast.Name) and p.id.lstrip("_").isupper() for p in parts):
                    continue
            elif not isinstance(sql, ast.BinOp | ast.Call):
                continue
            offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not offenders, f"SQL built from values at {offenders}"


def _constant_sql(node: ast.expr) -> bool:
    """A literal, a module constant, or an entry of a constant table (``_TABLE[key]``)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.Name) and node.id.lstrip("_").isupper()
    )


def test_load_ports_is_only_given_literal_sql() -> None:
    """Every caller of network.rows.load_ports passes a constant as its WHERE fragment."""
    calls = [
        node
        for path in (ROOT / "nova_lite" / "network").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and "load_ports" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))
    ]
    assert calls
    assert all(_constant_sql(c.args[1]) for c in calls)


async def test_no_secret_reaches_a_log_line(broker: TransportFactory, tmp_path: Path) -> None:
    """Tokens and passwords never appear in log events, whatever the log level."""
    import structlog

    from nova_lite.cloud import Cloud

    config = Config.load(
        environ={},
        state_path=str(tmp_path),
        rpc=broker.rpc_options(),
        identity={"bootstrap_password": "Sup3r-S3cret-Admin"},
    )
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        async with Cloud(config, computes=1, transport=await broker.connect()) as cloud:
            session = await cloud.login_admin()
            ctx = await session.context()
            await cloud.api.identity.create_user(ctx, "eve", "Eve-Pa55word!", "admin", "member")
            eve = await cloud.api.login("eve", "Eve-Pa55word!", project="admin")
            (server,) = await eve.servers.create("s", flavor="m1.tiny", image="cirros")
            await eve.servers.wait_for(server.id, "ACTIVE")
            await eve.servers.set_admin_password(server.id, "Guest-Pa55!")
            await eve.servers.wait_for(server.id, "ACTIVE")
            with pytest.raises(Exception):  # noqa: B017 - any refusal will do
                await cloud.api.login("eve", "Wrong-Pa55word!", project="admin")
            await eve.logout()
            await assert_audit_clean(cloud)  # the audit's own log lines carry no secret
    text = repr(logs)
    for secret in (
        "Sup3r-S3cret-Admin",
        "Eve-Pa55word!",
        "Wrong-Pa55word!",
        "Guest-Pa55!",
        session.token,
        eve.token,
    ):
        assert secret not in text
