"""The RPC contenders: nova_lite, and the hand-written references it is measured against.

A contender is one way of doing RPC, set up once and then asked for the three
workloads of the rpc scenario (`Contender`). The in-process ones share the workload
code (`AsyncContender`) and differ only in how they call and cast:

- `BareAsyncio`, the floor: an asyncio.Queue, a server task, a future per call, with
  the same JSON encoding; what any RPC costs in this Python with no broker at all;
- `NovaLite`: nova_lite's Invoker and Worker over a transport URL;
- `BareAioPika`: a hand-written aio-pika request/reply loop (exclusive reply queue,
  correlation ids, publisher confirms, acks), as a careful user would write it.

oslo.messaging is the fourth contender, in `benchmarks.oslo`.
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
import uuid
from typing import Any, Protocol

import attrs
import orjson

from benchmarks.observe import label, telemetry_for, unhook
from nova_lite import Invoker, RequestContext, Target, Worker
from nova_lite.loader import get_transport
from nova_lite.rpc import endpoint
from nova_lite.telemetry import install

__all__ = [
    "PAYLOAD",
    "AsyncContender",
    "BareAioPika",
    "BareAsyncio",
    "Contender",
    "NovaLite",
    "Workload",
    "call_budget",
]

PAYLOAD = {"instance_uuid": "0d4f4c52-6a37-4d7e-9d0c-6b0f1b4b1d4e", "host": "compute1"}


@attrs.frozen(kw_only=True)
class Workload:
    """How much each measurement does: a fixed count, or as many as fit in `duration`."""

    count: int = 2000
    duration: float | None = None
    latency_count: int = 300
    concurrency: tuple[int, ...] = (1, 8, 64, 256)


class Contender(Protocol):
    """One way of doing RPC, set up once and measured by the workloads."""

    name: str

    async def setup(self) -> None: ...
    async def latencies(self, count: int) -> list[float]: ...
    async def call_throughput(self, workload: Workload, concurrency: int) -> float: ...
    async def cast_throughput(self, workload: Workload) -> float: ...
    async def teardown(self) -> None: ...


def call_budget(workload: Workload, concurrency: int) -> tuple[int, float]:
    """Calls per caller and the perf_counter deadline of one throughput measurement."""
    if workload.duration is None:
        return max(1, workload.count // concurrency), math.inf
    return sys.maxsize, time.perf_counter() + workload.duration


class _CastCounter:
    def __init__(self) -> None:
        self.remaining = 0
        self.done: asyncio.Future[None] | None = None

    def expect(self, count: int) -> asyncio.Future[None]:
        self.remaining = count
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def tick(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and self.done is not None and not self.done.done():
            self.done.set_result(None)


class AsyncContender:
    """The workloads for an in-process asyncio contender, written once over call/cast."""

    name = "?"

    def __init__(self) -> None:
        self.counter = _CastCounter()

    async def call(self) -> Any:
        raise NotImplementedError

    async def cast(self) -> None:
        raise NotImplementedError

    async def latencies(self, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            await self.call()
            samples.append((time.perf_counter() - start) * 1e6)
        return samples

    async def call_throughput(self, workload: Workload, concurrency: int) -> float:
        budget, deadline = call_budget(workload, concurrency)
        done = 0

        async def caller() -> None:
            nonlocal done
            for _ in range(budget):
                await self.call()
                done += 1
                if time.perf_counter() >= deadline:
                    return

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)

    async def cast_throughput(self, workload: Workload) -> float:
        done = self.counter.expect(workload.count)
        start = time.perf_counter()
        for _ in range(workload.count):
            await self.cast()
        await asyncio.wait_for(done, 120)
        return workload.count / (time.perf_counter() - start)


class _Endpoint:
    def __init__(self, counter: _CastCounter) -> None:
        self.counter = counter

    # Typed as the services' endpoints are, so the RPC boundary's checks are measured.
    @endpoint
    async def echo(self, ctx: RequestContext, instance_uuid: str, host: str) -> dict[str, Any]:
        return {"instance_uuid": instance_uuid, "host": host}

    @endpoint
    async def note(self, ctx: RequestContext, instance_uuid: str, host: str) -> None:
        self.counter.tick()


class NovaLite(AsyncContender):
    """nova_lite's Invoker and Worker over one transport URL (client and server apart)."""

    def __init__(self, url: str, *, observe: str = "off") -> None:
        super().__init__()
        self.name = label(f"nova_lite {url.split(':', 1)[0]}", observe)
        self.url = url
        self.observe = observe

    async def setup(self) -> None:
        self.server = get_transport(self.url)
        await self.server.connect()
        self.client = self.server
        if not self.url.startswith("memory"):
            self.client = get_transport(self.url)
            await self.client.connect()
        self._spans = tempfile.TemporaryDirectory(prefix="nova-lite-bench-")
        self.telemetry = telemetry_for(self.observe, self._spans.name)
        for transport in {self.server, self.client}:
            install(transport, self.telemetry)
        suffix = uuid.uuid4().hex[:8]
        target = Target(topic=f"bench_{suffix}", exchange=f"bench_{suffix}", server="h1")
        self.worker = Worker(self.server, target, [_Endpoint(self.counter)], max_concurrency=256)
        await self.worker.start()
        self.invoker = Invoker(self.client, Target(topic=target.topic, exchange=target.exchange))
        if self.observe == "unhooked":
            unhook(self.invoker, self.worker)
        self.ctx = RequestContext(user_id="bench", project_id="bench")

    async def call(self) -> Any:
        return await self.invoker.call(self.ctx, "echo", **PAYLOAD)

    async def cast(self) -> None:
        await self.invoker.cast(self.ctx, "note", **PAYLOAD)

    async def teardown(self) -> None:
        await self.worker.stop()
        for queue in (self.worker.target.topic, f"{self.worker.target.topic}.h1"):
            await self.server.delete_queue(queue or "")
        await self.client.close()
        await self.server.close()
        self.telemetry.close()
        self._spans.cleanup()


class BareAsyncio(AsyncContender):
    """The floor: an asyncio.Queue, a server task, a future per call, JSON both ways."""

    name = "bare asyncio (floor)"

    async def setup(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, asyncio.Future[bytes] | None]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            body, future = await self.queue.get()
            request = orjson.loads(body)
            if future is None:
                self.counter.tick()
            else:
                future.set_result(orjson.dumps({"result": request["args"]}))

    async def call(self) -> Any:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((orjson.dumps({"method": "echo", "args": PAYLOAD}), future))
        return orjson.loads(await future)["result"]

    async def cast(self) -> None:
        self.queue.put_nowait((orjson.dumps({"method": "note", "args": PAYLOAD}), None))

    async def teardown(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class BareAioPika(AsyncContender):
    """A hand-written aio-pika request/reply loop, as a careful user would write it."""

    name = "bare aio-pika"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.pending: dict[str, asyncio.Future[bytes]] = {}

    async def setup(self) -> None:
        import aio_pika

        self.aio_pika = aio_pika
        self.server_conn = await aio_pika.connect(self.url)
        self.client_conn = await aio_pika.connect(self.url)
        server = await self.server_conn.channel()
        await server.set_qos(prefetch_count=256)
        self.server_channel = server
        self.queue_name = f"bare_{uuid.uuid4().hex[:8]}"
        queue = await server.declare_queue(self.queue_name, auto_delete=True)
        await queue.consume(self._serve)
        client = await self.client_conn.channel(publisher_confirms=True)
        self.client_channel = client
        replies = await client.declare_queue(exclusive=True)
        self.reply_queue = replies.name
        await replies.consume(self._on_reply, no_ack=True)

    async def _serve(self, message: Any) -> None:
        request = orjson.loads(message.body)
        if message.reply_to:
            reply = self.aio_pika.Message(
                orjson.dumps({"result": request["args"]}), correlation_id=message.correlation_id
            )
            await self.server_channel.default_exchange.publish(reply, message.reply_to)
        else:
            self.counter.tick()
        await message.ack()

    async def _on_reply(self, message: Any) -> None:
        future = self.pending.pop(message.correlation_id, None)
        if future is not None:
            future.set_result(message.body)

    async def call(self) -> Any:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        message = self.aio_pika.Message(
            orjson.dumps({"method": "echo", "args": PAYLOAD}),
            correlation_id=correlation_id,
            reply_to=self.reply_queue,
        )
        await self.client_channel.default_exchange.publish(message, self.queue_name)
        return orjson.loads(await future)["result"]

    async def cast(self) -> None:
        message = self.aio_pika.Message(orjson.dumps({"method": "note", "args": PAYLOAD}))
        await self.client_channel.default_exchange.publish(message, self.queue_name)

    async def teardown(self) -> None:
        await self.client_conn.close()
        await self.server_conn.close()
