"""Wire compatibility with oslo.messaging, both ways, over RabbitMQ.

A real oslo.messaging peer (rabbit driver, ``threading`` executor) runs in a child
process (`tests.oslo_peer`) beside nova_lite's Worker and Invoker in this one. Each
test has a topic of its own and both an oslo server (host ``oslo-h``) and a
nova_lite Worker (host ``nl-h``) on it, under Nova's default control exchange
``nova``; each case runs in both directions: an oslo client calling nova_lite's
Worker, and nova_lite's Invoker calling the oslo server. The declaration tests start
the two sides in both orders, so that each side declares first once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import selectors
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
import structlog

from nova_lite import Invoker, RequestContext, Target, Worker, objects
from nova_lite.exceptions import NotFound, RemoteError
from nova_lite.rpc import DirectPublisher, endpoint
from nova_lite.rpc.call_monitor import CallClock
from nova_lite.testing import TransportFactory

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("oslo_messaging") is None,
    reason="oslo.messaging is not importable (pip install -e '.[test]' installs it)",
)

WAIT = 30.0
ROOT = Path(__file__).resolve().parent.parent
DIRECTIONS = ["oslo-to-nova_lite", "nova_lite-to-oslo"]
FLAVOR = objects.Flavor(flavorid="7", name="m1.interop", vcpus=1, memory_mb=512, root_gb=1)
# A Flavor as oslo.versionedobjects writes one: Nova's namespace, a newer minor
# version, a field nova_lite does not have, and the list of changed fields.
OVO_FLAVOR = {
    "nova_object.name": "Flavor",
    "nova_object.namespace": "nova",
    "nova_object.version": "1.2",
    "nova_object.data": {
        "flavorid": "42",
        "name": "ovo.small",
        "vcpus": 2,
        "memory_mb": 2048,
        "root_gb": 20,
        "rxtx_factor": 1.0,
    },
    "nova_object.changes": ["name"],
}


class OsloPeer:
    """The child process running oslo.messaging, driven by one JSON line per command."""

    def __init__(self, amqp_url: str) -> None:
        _, _, rest = amqp_url.partition("://")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.oslo_peer", f"rabbit://{rest}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT,
        )  # fmt: skip
        self._read(60)

    def _read(self, timeout: float) -> Any:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise TimeoutError(f"the oslo peer did not answer in {timeout}s: {self._tail()}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the oslo peer exited: {self._tail()}")
        answer = orjson.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the oslo peer failed: {answer['error']}")
        return answer["result"]

    def ask_now(self, op: str, **args: Any) -> Any:
        """Send one command and wait (bounded) for its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps({"op": op, **args}) + b"\n")
        self.proc.stdin.flush()
        return self._read(WAIT)

    async def ask(self, op: str, **args: Any) -> Any:
        """`ask_now` in a thread, so this process's loop serves nova_lite meanwhile."""
        return await asyncio.to_thread(self.ask_now, op, **args)

    def _tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        try:
            self.ask_now("shutdown")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout, self._stderr):
                if pipe is not None:
                    pipe.close()


@pytest.fixture(autouse=True)
def _declared_exactly_alike() -> Iterator[None]:
    """Fail a test in which nova_lite had to take a name declared otherwise as it was.

    Taking it keeps a rolling upgrade going, but here it would hide a declaration
    that differs from oslo's.
    """
    with structlog.testing.capture_logs() as logs:
        yield
    taken = [line for line in logs if line["event"] == "rpc.topology.taken_as_it_is"]
    assert not taken, taken


@pytest.fixture(scope="module")
def oslo(rabbitmq_url: str) -> Iterator[OsloPeer]:
    """One oslo.messaging child process for the module (it starts in about a second)."""
    peer = OsloPeer(rabbitmq_url)
    try:
        yield peer
    finally:
        peer.close()


class NovaLiteSide:
    """The nova_lite Worker's endpoint: the same methods as the oslo peer's."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.casts: asyncio.Queue[Any] = asyncio.Queue()
        self.released = asyncio.Event()

    @endpoint
    async def held(self, ctx: RequestContext, value: Any) -> Any:
        """Answer only once the test sets `released`."""
        await self.released.wait()
        return value

    @endpoint
    async def echo(self, ctx: RequestContext, value: Any) -> Any:
        return value

    @endpoint
    async def whoami(self, ctx: RequestContext) -> str:
        return f"nova_lite:{self.host}"

    @endpoint
    async def note(self, ctx: RequestContext, n: Any) -> None:
        await self.casts.put(n)

    @endpoint
    async def context_of(self, ctx: RequestContext) -> dict[str, Any]:
        return {
            "request_id": ctx.request_id,
            "user_id": ctx.user_id,
            "project_id": ctx.project_id,
            "roles": list(ctx.roles),
        }

    @endpoint
    async def fail_builtin(self, ctx: RequestContext) -> None:
        raise KeyError("boom")

    @endpoint
    async def fail_nova_lite(self, ctx: RequestContext) -> None:
        raise NotFound("Instance abc could not be found.", instance_id="abc")

    @endpoint
    async def flavor_name(self, ctx: RequestContext, flavor: objects.Flavor) -> str:
        assert isinstance(flavor, objects.Flavor)
        return flavor.name

    @endpoint
    async def make_flavor(self, ctx: RequestContext) -> objects.Flavor:
        return FLAVOR


@attrs.define
class Fleet:
    """One topic served by an oslo server and a nova_lite Worker, and a client each way."""

    oslo: OsloPeer
    broker: TransportFactory
    topic: str
    exchange: str = "nova"
    durable: bool = False
    workers: list[Worker] = attrs.field(factory=list)
    sides: dict[str, NovaLiteSide] = attrs.field(factory=dict)
    oslo_servers: list[str] = attrs.field(factory=list)

    async def start_nova_lite(self, host: str = "nl-h") -> NovaLiteSide:
        side = NovaLiteSide(host)
        target = Target(topic=self.topic, server=host, exchange=self.exchange)
        worker = Worker(
            await self.broker.connect(),
            target,
            [side],
            serializer=objects.serializer(),
            durable_queues=self.durable,
        )
        await worker.start()
        self.workers.append(worker)
        self.sides[host] = side
        return side

    async def start_oslo(self, host: str = "oslo-h") -> None:
        name = f"{self.topic}:{host}"
        await self.oslo.ask(
            "serve",
            name=name,
            topic=self.topic,
            server=host,
            exchange=self.exchange,
            durable=self.durable,
        )
        self.oslo_servers.append(name)

    async def invoker(self, **prepare: Any) -> Invoker:
        """A nova_lite Invoker on the topic (no version unless given), prepared."""
        target = Target(topic=self.topic, exchange=self.exchange)
        invoker = Invoker(
            await self.broker.connect(),
            target,
            timeout=10,
            serializer=objects.serializer(),
            durable_queues=self.durable,
        )
        return invoker.prepare(**prepare) if prepare else invoker

    async def oslo_call(self, method: str, **options: Any) -> Any:
        """An oslo client's call; returns {"value": ...} or {"raised", "module", "text"}."""
        options.setdefault("server", "nl-h")
        return await self.oslo.ask(
            "call",
            topic=self.topic,
            exchange=self.exchange,
            method=method,
            durable=self.durable,
            **options,
        )

    async def oslo_cast(self, method: str, **options: Any) -> None:
        await self.oslo.ask(
            "cast", topic=self.topic, exchange=self.exchange, method=method, **options
        )

    async def oslo_received(self, host: str, count: int) -> list[Any]:
        received: list[Any] = await self.oslo.ask(
            "received", name=f"{self.topic}:{host}", count=count
        )
        return received

    async def aclose(self) -> None:
        for name in self.oslo_servers:
            await self.oslo.ask("stop", name=name)
        for worker in self.workers:
            await asyncio.wait_for(worker.stop(), WAIT)
        async with self.broker.build() as cleaner:  # oslo's queues outlive its servers
            for host in ("nl-h", "oslo-h", "h"):
                await cleaner.delete_queue(f"{self.topic}.{host}")
            await cleaner.delete_queue(self.topic)


@pytest.fixture
async def new_fleet(oslo: OsloPeer, rabbitmq_url: str) -> AsyncIterator[Any]:
    """Makes fleets on unique topics; closes them and tidies the broker afterwards."""
    broker = TransportFactory("rabbitmq", rabbitmq_url)
    fleets: list[Fleet] = []

    def make(**options: Any) -> Fleet:
        fleet = Fleet(oslo, broker, f"interop_{uuid.uuid4().hex[:10]}", **options)
        fleets.append(fleet)
        return fleet

    try:
        yield make
    finally:
        for fleet in fleets:
            await fleet.aclose()
        await asyncio.wait_for(broker.aclose(), WAIT)


@pytest.fixture
async def fleet(new_fleet: Any) -> Fleet:
    """A topic with the oslo server ``oslo-h`` and the nova_lite Worker ``nl-h``."""
    fleet: Fleet = new_fleet()
    await fleet.start_oslo()
    await fleet.start_nova_lite()
    return fleet


CTX = RequestContext(
    request_id="req-11111111-2222-4333-8444-555555555555",
    user_id="alice",
    project_id="p1",
    roles=("member", "reader"),
)
OSLO_CTX = {
    "request_id": "req-66666666-7777-4888-8999-000000000000",
    "user_id": "bob",
    "project_id": "p2",
    "roles": ["admin"],
}


# -- call, cast, topic.host --------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_call_to_one_server(fleet: Fleet, direction: str) -> None:
    """A call aimed at topic.host is served by that host on the other side, with its result."""
    value = {"a": [1, 2.5, "x", None, True], "nested": {"k": "v"}}
    if direction == "oslo-to-nova_lite":
        assert await fleet.oslo_call("echo", args={"value": value}) == {"value": value}
        assert await fleet.oslo_call("whoami") == {"value": "nova_lite:nl-h"}
    else:
        to_oslo = await fleet.invoker(server="oslo-h")
        assert await to_oslo.call(CTX, "echo", value=value) == value
        assert await to_oslo.call(CTX, "whoami") == "oslo:oslo-h"


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_calls_to_the_topic_are_shared_by_both_kinds(fleet: Fleet, direction: str) -> None:
    """Calls to the bare topic are served round-robin by the oslo and nova_lite servers."""
    if direction == "oslo-to-nova_lite":
        answers = [(await fleet.oslo_call("whoami", server=None))["value"] for _ in range(4)]
    else:
        invoker = await fleet.invoker()
        answers = [await invoker.call(CTX, "whoami") for _ in range(4)]
    assert set(answers) == {"oslo:oslo-h", "nova_lite:nl-h"}


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_cast(fleet: Fleet, direction: str) -> None:
    """A cast to topic.host runs on the other side's server."""
    if direction == "oslo-to-nova_lite":
        await fleet.oslo_cast("note", server="nl-h", args={"n": 5})
        assert await asyncio.wait_for(fleet.sides["nl-h"].casts.get(), WAIT) == 5
    else:
        await (await fleet.invoker(server="oslo-h")).cast(CTX, "note", n=5)
        assert await fleet.oslo_received("oslo-h", 1) == [5]


# -- declarations: either side may declare first -------------------------------------


@pytest.mark.parametrize("durable", [False, True], ids=["transient", "durable"])
@pytest.mark.parametrize("first", ["oslo", "nova_lite"])
async def test_either_side_may_declare_first(new_fleet: Any, first: str, durable: bool) -> None:
    """The control exchange and the topic and topic.host queues are declared alike.

    Both servers use one host name, so both declare every one of them; nova_lite's
    ``durable_queues`` is oslo's ``amqp_durable_queues``.
    """
    fleet: Fleet = new_fleet(exchange=f"interop_x_{uuid.uuid4().hex[:8]}", durable=durable)
    starts = [fleet.start_oslo("h"), fleet.start_nova_lite("h")]
    for start in starts if first == "oslo" else reversed(starts):
        await start
    invoker = await fleet.invoker(server="h")
    answers = {await invoker.call(CTX, "whoami") for _ in range(4)}
    answers |= {(await fleet.oslo_call("whoami", server="h"))["value"] for _ in range(4)}
    assert answers == {"oslo:h", "nova_lite:h"}


@pytest.mark.parametrize("first", ["oslo", "nova_lite"])
async def test_fanout_cast_reaches_both_kinds_whoever_declared_first(
    new_fleet: Any, first: str
) -> None:
    """A fanout cast from either side reaches every server of the topic, of both kinds."""
    fleet: Fleet = new_fleet()
    starts = [fleet.start_oslo(), fleet.start_nova_lite()]
    for start in starts if first == "oslo" else reversed(starts):
        await start
    await fleet.oslo_cast("note", fanout=True, args={"n": "from oslo"})
    await (await fleet.invoker(fanout=True)).cast(CTX, "note", n="from nova_lite")
    nova_lite_got = {await asyncio.wait_for(fleet.sides["nl-h"].casts.get(), WAIT) for _ in "12"}
    assert nova_lite_got == {"from oslo", "from nova_lite"}
    assert set(await fleet.oslo_received("oslo-h", 2)) == {"from oslo", "from nova_lite"}


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_remote_exceptions(fleet: Fleet, direction: str) -> None:
    """Failures cross both ways in oslo's failure format.

    oslo rebuilds builtin exceptions and allow-listed modules' (``allowed_remote_exmods``),
    nova_lite only ``nova_lite.exceptions`` (with their keyword details); anything
    else arrives as the receiver's RemoteError.
    """
    if direction == "oslo-to-nova_lite":
        builtin = await fleet.oslo_call("fail_builtin")
        assert (builtin["raised"], builtin["module"]) == ("KeyError", "builtins")
        unlisted = await fleet.oslo_call("fail_nova_lite")
        assert unlisted["raised"] == "RemoteError" and "NotFound" in unlisted["text"]
        listed = await fleet.oslo_call("fail_nova_lite", allowed=["nova_lite.exceptions"])
        assert listed["raised"].startswith("NotFound")
        assert listed["module"].startswith("nova_lite.exceptions")  # oslo adds "_Remote"
        assert "Instance abc could not be found." in listed["text"]
    else:
        to_oslo = await fleet.invoker(server="oslo-h")
        with pytest.raises(RemoteError) as caught:
            await to_oslo.call(CTX, "fail_builtin")
        assert caught.value.exc_type == "KeyError" and "boom" in caught.value.value
        with pytest.raises(NotFound, match="Instance abc could not be found") as found:
            await to_oslo.call(CTX, "fail_nova_lite")
        assert found.value.kwargs == {"instance_id": "abc"}


# -- context ---------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_request_context(fleet: Fleet, direction: str) -> None:
    """request_id, user, project and roles reach the other side's endpoint."""
    if direction == "oslo-to-nova_lite":
        seen = await fleet.oslo_call("context_of", ctx=OSLO_CTX)
        assert seen == {"value": OSLO_CTX}
    else:
        seen = await (await fleet.invoker(server="oslo-h")).call(CTX, "context_of")
        assert seen == {
            "request_id": CTX.request_id,
            "user_id": CTX.user_id,
            "project_id": CTX.project_id,
            "roles": list(CTX.roles),
        }


# -- versioned objects -------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_versioned_objects(fleet: Fleet, direction: str) -> None:
    """attrs objects travel as versioned-object primitives; OVO-style ones are rebuilt.

    oslo (with no object serializer) sees nova_lite's objects as the primitive dict;
    nova_lite rebuilds a primitive of a class it registers (same name, same major
    version), ignoring its namespace, its changes and fields it does not have.
    """
    primitive_keys = [
        "nova_object.data",
        "nova_object.name",
        "nova_object.namespace",
        "nova_object.version",
    ]
    if direction == "oslo-to-nova_lite":
        made = (await fleet.oslo_call("make_flavor"))["value"]
        assert sorted(made) == primitive_keys and made["nova_object.name"] == "Flavor"
        assert made["nova_object.data"]["name"] == FLAVOR.name
        assert await fleet.oslo_call("flavor_name", args={"flavor": OVO_FLAVOR}) == {
            "value": "ovo.small"
        }
    else:
        to_oslo = await fleet.invoker(server="oslo-h")
        assert await to_oslo.call(CTX, "describe", value=FLAVOR) == {
            "type": "dict",
            "keys": primitive_keys,
        }
        assert await to_oslo.call(CTX, "echo", value=FLAVOR) == FLAVOR
        rebuilt = await to_oslo.call(CTX, "ovo_flavor")
        assert isinstance(rebuilt, objects.Flavor) and rebuilt.name == "ovo.small"


# -- versions --------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_version_omitted_or_refused(fleet: Fleet, direction: str) -> None:
    """A request without a version is served as 1.0; an unserved major is refused."""
    if direction == "oslo-to-nova_lite":
        assert await fleet.oslo_call("echo", args={"value": 1}) == {"value": 1}
        assert await fleet.oslo_call("echo", version="1.0", args={"value": 2}) == {"value": 2}
        refused = await fleet.oslo_call("echo", version="2.0", args={"value": 3})
        assert refused["raised"] == "RemoteError" and "UnsupportedVersion" in refused["text"]
    else:
        to_oslo = await fleet.invoker(server="oslo-h")
        assert await to_oslo.call(CTX, "echo", value=1) == 1
        assert await to_oslo.prepare(version="1.0").call(CTX, "echo", value=2) == 2
        with pytest.raises(RemoteError) as caught:
            await to_oslo.prepare(version="2.0").call(CTX, "echo", value=3)
        assert caught.value.exc_type == "UnsupportedVersion"


# -- call monitor ------------------------------------------------------------------


class Counted:
    """Counts the calls of a wrapped function and lets a test await a count."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def wrap(self, function: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self._changed.set()
            return function(*args, **kwargs)

        return counted

    async def reach(self, count: int) -> None:
        while self.count < count:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), WAIT)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_heartbeats_keep_a_call_alive_past_its_call_monitor_timeout(
    fleet: Fleet, direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call held past its call_monitor_timeout answers: the server's heartbeats are read.

    The caller asks for heartbeats (oslo's ``_timeout``) and would give up after that
    long without one; the server holds the call for several heartbeats' time, and
    only then answers. Either side failing to send or read them times the call out.
    """
    beats = Counted()
    if direction == "oslo-to-nova_lite":
        monkeypatch.setattr(DirectPublisher, "heartbeat", beats.wrap(DirectPublisher.heartbeat))
        call = asyncio.create_task(
            fleet.oslo_call("held", args={"value": 7}, timeout=25, call_monitor_timeout=2)
        )
        await beats.reach(5)  # 2.5 s of beats every second: past the monitor timeout
        fleet.sides["nl-h"].released.set()
        assert await call == {"value": 7}
    else:
        monkeypatch.setattr(CallClock, "heard", beats.wrap(CallClock.heard))
        to_oslo = (await fleet.invoker(server="oslo-h")).prepare(
            timeout=25, call_monitor_timeout=3
        )  # oslo's server beats every int(3) / 2 = 1.5 s, and for no _timeout under 2
        call = asyncio.create_task(to_oslo.call(CTX, "held", value=7))
        await beats.reach(3)  # 4.5 s: past the monitor timeout
        await fleet.oslo.ask("release", name=f"{fleet.topic}:oslo-h")
        assert await call == 7


def test_the_peer_runs_the_installed_oslo_messaging() -> None:
    """The peer imports oslo.messaging from this environment (not a stub)."""
    spec = importlib.util.find_spec("oslo_messaging")
    assert spec is not None and spec.origin is not None
    assert os.path.exists(spec.origin)
