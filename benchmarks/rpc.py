"""RPC benchmark: nova_lite's call and cast against hand-written references.

Three workloads, each measured on every transport asked for:

- ``latency``: sequential calls, one at a time (p50/p95/p99 in microseconds);
- ``calls/s``: calls with `concurrency` in flight;
- ``casts/s``: casts sent back to back, timed until the worker has handled them all.

Two references do the same work in the same run: a bare aio-pika request/reply loop
(exclusive reply queue, correlation ids, publisher confirms), and the bare asyncio
floor (an asyncio.Queue and a future per call, with the same JSON encoding).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from benchmarks.common import Figure, percentile, repeat
from nova_lite import Invoker, RequestContext, Target, Worker
from nova_lite.loader import get_transport

__all__ = ["Contender", "run_rpc"]

PAYLOAD = {"instance_uuid": "0d4f4c52-6a37-4d7e-9d0c-6b0f1b4b1d4e", "host": "compute1"}


class Contender(Protocol):
    """One way of doing RPC, set up once and measured by the workloads."""

    name: str

    async def setup(self) -> None: ...
    async def call(self) -> Any: ...
    async def cast(self) -> None: ...
    def expect_casts(self, count: int) -> asyncio.Future[None]: ...
    async def teardown(self) -> None: ...


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


class _Endpoint:
    def __init__(self, counter: _CastCounter) -> None:
        self.counter = counter

    async def echo(self, ctx: RequestContext, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    async def note(self, ctx: RequestContext, **kwargs: Any) -> None:
        self.counter.tick()


class NovaLite:
    """nova_lite's Invoker and Worker over one transport URL."""

    def __init__(self, url: str) -> None:
        self.name = f"nova_lite {url.split(':', 1)[0]}"
        self.url = url
        self.counter = _CastCounter()

    async def setup(self) -> None:
        self.server = get_transport(self.url)
        await self.server.connect()
        self.client = self.server
        if not self.url.startswith("memory"):
            self.client = get_transport(self.url)
            await self.client.connect()
        suffix = uuid.uuid4().hex[:8]
        target = Target(topic=f"bench_{suffix}", exchange=f"bench_{suffix}", server="h1")
        self.worker = Worker(self.server, target, [_Endpoint(self.counter)], max_concurrency=256)
        await self.worker.start()
        self.invoker = Invoker(self.client, Target(topic=target.topic, exchange=target.exchange))
        self.ctx = RequestContext(user_id="bench", project_id="bench")

    async def call(self) -> Any:
        return await self.invoker.call(self.ctx, "echo", **PAYLOAD)

    async def cast(self) -> None:
        await self.invoker.cast(self.ctx, "note", **PAYLOAD)

    def expect_casts(self, count: int) -> asyncio.Future[None]:
        return self.counter.expect(count)

    async def teardown(self) -> None:
        await self.worker.stop()
        for queue in (self.worker.target.topic, f"{self.worker.target.topic}.h1"):
            await self.server.delete_queue(queue or "")
        await self.client.close()
        await self.server.close()


class BareAsyncio:
    """The floor: an asyncio.Queue, a server task, a future per call, JSON both ways."""

    name = "bare asyncio (floor)"

    def __init__(self) -> None:
        self.counter = _CastCounter()

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

    def expect_casts(self, count: int) -> asyncio.Future[None]:
        return self.counter.expect(count)

    async def teardown(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class BareAioPika:
    """A hand-written aio-pika request/reply loop, as a careful user would write it."""

    name = "bare aio-pika"

    def __init__(self, url: str) -> None:
        self.url = url
        self.counter = _CastCounter()
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

    def expect_casts(self, count: int) -> asyncio.Future[None]:
        return self.counter.expect(count)

    async def teardown(self) -> None:
        await self.client_conn.close()
        await self.server_conn.close()


async def _latencies(contender: Contender, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await contender.call()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


async def _call_throughput(contender: Contender, count: int, concurrency: int) -> float:
    per_worker = max(1, count // concurrency)

    async def worker() -> None:
        for _ in range(per_worker):
            await contender.call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - start)


async def _cast_throughput(contender: Contender, count: int) -> float:
    done = contender.expect_casts(count)
    start = time.perf_counter()
    for _ in range(count):
        await contender.cast()
    await asyncio.wait_for(done, 120)
    return count / (time.perf_counter() - start)


async def measure(
    contender: Contender, *, runs: int, count: int, concurrency: int
) -> dict[str, Figure]:
    """Every workload on one contender, each repeated `runs` times."""
    await contender.setup()
    try:
        await _call_throughput(contender, min(count, 500), concurrency)  # warm up
        latency_runs = [await _latencies(contender, max(100, count // 10)) for _ in range(runs)]
        figures = {
            "p50_us": Figure("p50", "us", tuple(percentile(r, 50) for r in latency_runs)),
            "p95_us": Figure("p95", "us", tuple(percentile(r, 95) for r in latency_runs)),
            "p99_us": Figure("p99", "us", tuple(percentile(r, 99) for r in latency_runs)),
        }
        figures["calls_per_s"] = await repeat(
            "calls/s", "1/s", runs, _bind(_call_throughput, contender, count, concurrency)
        )
        figures["casts_per_s"] = await repeat(
            "casts/s", "1/s", runs, _bind(_cast_throughput, contender, count)
        )
        return figures
    finally:
        await contender.teardown()


def _bind(fn: Callable[..., Awaitable[float]], *args: Any) -> Callable[[], Awaitable[float]]:
    return lambda: fn(*args)


async def run_rpc(
    *, transports: list[str], amqp_url: str, runs: int, count: int, concurrency: int
) -> dict[str, dict[str, Figure]]:
    """Measure nova_lite on each transport, and the references, in one run."""
    contenders: list[Contender] = [BareAsyncio()]
    if "memory" in transports:
        contenders.append(NovaLite("memory://"))
    if "rabbitmq" in transports:
        contenders += [BareAioPika(amqp_url), NovaLite(amqp_url)]
    results = {}
    for contender in contenders:
        results[contender.name] = await measure(
            contender, runs=runs, count=count, concurrency=concurrency
        )
    return results
