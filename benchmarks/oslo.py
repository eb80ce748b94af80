"""oslo.messaging as an RPC contender: the library real Nova uses, over the same broker.

oslo.messaging is synchronous: its RPC server runs endpoints on the eventlet-free
``threading`` executor and callers block in ``client.call``. It runs here in a child
process (``python -m benchmarks.oslo``) so its threads, its logging and its
deprecation warnings stay out of the asyncio process, and so both sides have the
same process layout: client and server together in one Python process, as the
nova_lite contenders are. The parent drives it as a `Contender`, one JSON command a
line on the child's stdin, one JSON answer a line on its stdout; N concurrent callers
are N threads each calling ``client.call`` in turn.

oslo is configured as a generous operator would: the connection pool and the
server's thread pool are as large as the highest concurrency measured, so oslo is
never starved of connections or threads (Nova's defaults are 30 and 64).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from benchmarks.contenders import PAYLOAD, Workload, call_budget

__all__ = ["OsloMessaging", "oslo_missing"]

NAME = "oslo.messaging"


def oslo_missing() -> str | None:
    """None if oslo.messaging can be imported here, else why it cannot."""
    if importlib.util.find_spec("oslo_messaging") is None:
        return "oslo.messaging is not installed (pip install 'nova-lite[bench]')"
    return None


def oslo_url(amqp_url: str) -> str:
    """The same broker as an oslo.messaging transport URL (``rabbit://``)."""
    scheme, sep, rest = amqp_url.partition("://")
    return f"rabbit://{rest}" if sep and scheme in ("amqp", "amqps") else amqp_url


class OsloMessaging:
    """The parent's handle on the child process running oslo's client and server."""

    name = NAME

    def __init__(self, amqp_url: str, *, pool_size: int = 256) -> None:
        self.url = oslo_url(amqp_url)
        self.pool_size = pool_size
        self.process: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None

    async def setup(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in teardown)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.oslo", self.url, str(self.pool_size),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            limit=16 * 1024 * 1024,
        )  # fmt: skip
        await self._ask("setup")

    async def latencies(self, count: int) -> list[float]:
        samples: list[float] = await self._ask("latencies", count=count)
        return samples

    async def call_throughput(self, workload: Workload, concurrency: int) -> float:
        return float(
            await self._ask(
                "calls", count=workload.count, duration=workload.duration, concurrency=concurrency
            )
        )

    async def cast_throughput(self, workload: Workload) -> float:
        return float(await self._ask("casts", count=workload.count))

    async def teardown(self) -> None:
        if self.process is None:
            return
        try:
            await asyncio.wait_for(self._ask("teardown"), 60)
        finally:
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()
            if self._stderr is not None:
                self._stderr.close()

    async def _ask(self, op: str, **args: Any) -> Any:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"oslo.messaging child exited: {self._tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"oslo.messaging child failed: {answer['error']}")
        return answer["result"]

    def _tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]


# -- the child process ---------------------------------------------------------------


class _Endpoint:
    """The server side: echo answers a call, note counts a cast."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remaining = 0
        self.done = threading.Event()

    def echo(self, ctxt: Any, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def note(self, ctxt: Any, **kwargs: Any) -> None:
        with self.lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()

    def expect(self, count: int) -> None:
        with self.lock:
            self.remaining = count
            self.done.clear()


class _Child:
    """oslo's RPC server (threading executor) and client in one process."""

    def __init__(self, url: str, pool_size: int) -> None:
        oslo_messaging = importlib.import_module("oslo_messaging")
        cfg = importlib.import_module("oslo_config.cfg")
        opts = importlib.import_module("oslo_messaging.opts")

        self.om = oslo_messaging
        conf = cfg.CONF
        conf([], project="nova_lite_bench")
        for group, options in opts.list_opts():
            conf.register_opts(options, group=group)
        conf.set_override("rpc_conn_pool_size", pool_size, group="oslo_messaging_rabbit")
        conf.set_override("executor_thread_pool_size", pool_size)
        self.transport = oslo_messaging.get_rpc_transport(conf, url=url)
        self.pool_size = pool_size
        self.endpoint = _Endpoint()
        topic = f"oslo_bench_{uuid.uuid4().hex[:8]}"
        self.server = oslo_messaging.get_rpc_server(
            self.transport, oslo_messaging.Target(topic=topic, server="h1"), [self.endpoint],
            executor="threading", access_policy=oslo_messaging.DefaultRPCAccessPolicy,
        )  # fmt: skip
        self.client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic), timeout=120
        )

    def setup(self) -> None:
        self.server.start()
        self.client.call({}, "echo", **PAYLOAD)

    def latencies(self, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            self.client.call({}, "echo", **PAYLOAD)
            samples.append((time.perf_counter() - start) * 1e6)
        return samples

    def calls(self, count: int, duration: float | None, concurrency: int) -> float:
        workload = Workload(count=count, duration=duration)
        budget, deadline = call_budget(workload, concurrency)
        done = [0] * concurrency

        def caller(index: int) -> None:
            for _ in range(budget):
                self.client.call({}, "echo", **PAYLOAD)
                done[index] += 1
                if time.perf_counter() >= deadline:
                    return

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(caller, range(concurrency)))
        return sum(done) / (time.perf_counter() - start)

    def casts(self, count: int) -> float:
        self.endpoint.expect(count)
        start = time.perf_counter()
        for _ in range(count):
            self.client.cast({}, "note", **PAYLOAD)
        if not self.endpoint.done.wait(120):
            raise TimeoutError(f"{self.endpoint.remaining} of {count} casts never arrived")
        return count / (time.perf_counter() - start)

    def teardown(self) -> None:
        self.server.stop()
        self.server.wait()
        self.transport.cleanup()


def _serve(url: str, pool_size: int, protocol: IO[str]) -> None:
    child: _Child | None = None
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            if op == "setup":
                child = _Child(url, pool_size)
            assert child is not None
            result = getattr(child, op)(**command)
            answer: dict[str, Any] = {"result": result}
        except Exception as exc:
            answer = {"error": repr(exc)}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
        if op == "teardown":
            return


def main() -> None:
    """The child: answer JSON commands on stdin; anything else printed goes to stderr."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    _serve(sys.argv[1], int(sys.argv[2]), protocol)


if __name__ == "__main__":
    main()
