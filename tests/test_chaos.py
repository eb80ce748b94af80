"""Chaos: broker restarts and killed services during a steady stream of work.

Every service runs as its own process (``python -m nova_lite service ...``) on a
RabbitMQ node of the test's own, with ``[rpc] durable_queues = true`` (the setting
under which confirmed casts survive a broker restart). While clients boot, act on
and delete servers, the broker restarts `RESTARTS` times (``stop_app``, a short
outage, ``start_app``) and `KILLS` random services among compute, conductor,
scheduler and network are killed with SIGKILL and started again. A cast probe sends
numbered persistent casts all along. Afterwards:

- no caller hung: every client operation returned (success or error) within
  `CALL_BOUND`;
- no confirmed cast was lost: the probe received every cast whose send returned;
- every consumer was restored: each service's queues have a consumer, and a server
  boots to ACTIVE;
- no server is left in a transitional state;
- the audit of the books is clean.

The schedule comes from a seed (``NOVA_LITE_TEST_CHAOS_SEED``, default 13), printed
with the counts, so a failing run can be replayed. The fake hypervisors keep their
guests in files (``[fake_driver] persist_guests``), so a killed compute finds them
again, as a real hypervisor's guests outlive nova-compute.
"""

from __future__ import annotations

import asyncio
import collections
import io
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from nova_lite import Invoker, RequestContext, Target, Worker, endpoint
from nova_lite.api.client import NovaAPI, Session
from nova_lite.audit import Audit
from nova_lite.cloud import DEFAULT_FLAVORS, DEFAULT_IMAGE_NAME, default_image_bytes
from nova_lite.conductor.reconcile import RECONCILE_WINDOW
from nova_lite.config import Config
from nova_lite.exceptions import InstanceNotFound, NovaLiteError
from nova_lite.loader import get_transport
from nova_lite.testing import PASSWORD, WAIT, PrivateRabbitMQ
from nova_lite.transport import Transport
from tests.test_deployment import Process

SEED = int(os.environ.get("NOVA_LITE_TEST_CHAOS_SEED", "13"))
RESTARTS = 20
KILLS = 5
KILLABLE = ("compute", "conductor", "scheduler", "network")
CONTROL = ("identity", "image", "volume", "network", "scheduler", "conductor")
COMPUTES = ("c1", "c2")
CLIENTS = 4  # concurrent clients, each a stream of boots, actions and deletes
LIVE = 12  # servers a client keeps at most
CALL_BOUND = 120.0  # seconds any one client operation may take: beyond, it hung
STARTUP = 90.0  # seconds a service process may take to be ready
SETTLED = RECONCILE_WINDOW + 2 * WAIT  # seconds for every server to come to rest
RESTING = ("ACTIVE", "SHUTOFF", "PAUSED", "ERROR")
ACTIONS = {"ACTIVE": ("reboot", "stop", "pause"), "SHUTOFF": ("start",), "PAUSED": ("unpause",)}


class Deployment:
    """The service processes, each started, killed and started again by name."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.processes: dict[str, Process] = {}
        self.previous: list[str] = []  # the log lines of the processes killed

    async def start(self, key: str) -> None:
        name, host = ("compute", key) if key in COMPUTES else (key, "ctl")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nova_lite", "service", name,
            "--host", host, "--config", str(self.config_path),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        process = Process(key, proc)
        if key in self.processes:
            self.previous.extend(self.processes[key].raw)
        self.processes[key] = process
        await process.wait_for_event("launcher.ready", STARTUP)

    async def kill(self, key: str) -> None:
        """SIGKILL the process, then start it again on the same state."""
        process = self.processes[key]
        process.proc.send_signal(signal.SIGKILL)
        await process.finish()
        await self.start(key)

    def keep_logs(self, logs: Path) -> None:
        """Each process's log lines in `logs`, the killed ones' in killed.log."""
        logs.mkdir(exist_ok=True)
        for key, process in self.processes.items():
            (logs / f"{key}.log").write_text("\n".join(process.raw))
        (logs / "killed.log").write_text("\n".join(self.previous))

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.proc.returncode is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.finish(), WAIT)
            except TimeoutError:
                process.proc.kill()
                await process.finish()


class Probe:
    """Numbered persistent casts to a durable queue, and which of them arrived."""

    def __init__(self, transport: Transport, exchange: str) -> None:
        self.target = Target(topic="probe", exchange=exchange)
        self.worker = Worker(
            transport,
            Target(topic="probe", server="t", exchange=exchange),
            [self],
            durable_queues=True,
        )
        self.invoker = Invoker(
            transport, self.target, timeout=WAIT, persistent_casts=True, durable_queues=True
        )
        self.confirmed: set[int] = set()
        self.received: set[int] = set()
        self.failed = 0
        self._arrived = asyncio.Event()

    @endpoint
    async def note(self, ctx: RequestContext, n: int) -> None:
        self.received.add(n)
        self._arrived.set()

    async def send(self, stop: asyncio.Event) -> None:
        for n in range(10**9):
            if stop.is_set():
                return
            try:
                await asyncio.wait_for(self.invoker.cast(RequestContext(), "note", n=n), WAIT)
            except (NovaLiteError, TimeoutError):
                self.failed += 1  # not confirmed: nothing is promised about it
            else:
                self.confirmed.add(n)
            await asyncio.sleep(0.05)

    async def all_arrived(self) -> None:
        while not self.confirmed <= self.received:
            self._arrived.clear()
            await self._arrived.wait()


def _hung(kind: str, running: asyncio.Future[object]) -> str:
    """What a hung operation was waiting on when `CALL_BOUND` ran out: its stack."""
    stack = io.StringIO()
    running.print_stack(file=stack)  # type: ignore[attr-defined]
    return f"{kind}, waiting at:\n{stack.getvalue()}"


class Clients:
    """Streams of boots, actions and deletes; what each answered, and the hung ones."""

    def __init__(self, session: Session, rng: random.Random) -> None:
        self.session = session
        self.rng = rng
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.hung: list[str] = []
        self.servers: set[str] = set()
        self._names = iter(range(10**9))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            kind, operation = self._pick()
            running = asyncio.ensure_future(operation())
            await asyncio.wait({running}, timeout=CALL_BOUND)
            if not running.done():
                self.hung.append(_hung(kind, running))
                self.outcomes[f"{kind}:hung"] += 1
                running.cancel()
                await asyncio.wait({running})
            elif isinstance(running.exception(), NovaLiteError):
                self.outcomes[f"{kind}:{type(running.exception()).__name__}"] += 1
            else:
                running.result()  # anything else is the test's failure
                self.outcomes[f"{kind}:ok"] += 1
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))

    def _pick(self) -> tuple[str, Callable[[], Awaitable[object]]]:
        servers = sorted(self.servers)
        roll = self.rng.random()
        if not servers or (roll < 0.45 and len(servers) < LIVE * CLIENTS):
            return "boot", self._boot
        server = self.rng.choice(servers)
        if roll < 0.8:
            return "action", lambda: self._act(server)
        return "delete", lambda: self._delete(server)

    async def _act(self, server_id: str) -> None:
        """An action the server's status allows (it may change meanwhile: a refusal)."""
        status = (await self.session.servers.get(server_id)).status
        choices = ACTIONS.get(status, ("reboot",))
        await getattr(self.session.servers, self.rng.choice(choices))(server_id)

    async def _boot(self) -> None:
        [server] = await self.session.servers.create(
            f"chaos{next(self._names)}", flavor="m1.tiny", image=DEFAULT_IMAGE_NAME
        )
        self.servers.add(server.id)

    async def _delete(self, server_id: str) -> None:
        await self.session.servers.delete(server_id)
        self.servers.discard(server_id)


def _config_text(node: PrivateRabbitMQ, state: Path) -> str:
    return (
        f'transport_url = "{node.url}"\n'
        f'state_path = "{state}"\n'
        '[rpc]\nexchange = "chaos"\ntimeout = 20\ndurable_queues = true\n'
        '[logging]\nformat = "json"\n'
        f'[identity]\nbootstrap_password = "{PASSWORD}"\n'
        "[compute]\nreport_interval = 2\nservice_down_time = 20\n"
        "[fake_driver]\npersist_guests = true\nvcpus = 256\nmemory_mb = 262144\n"
        "spawn_delay = 0.2\n"
    )


@pytest_asyncio.fixture
async def deployment(
    private_rabbitmq: PrivateRabbitMQ, tmp_path: Path
) -> AsyncIterator[tuple[Config, Deployment]]:
    """Every service but the api in its own process, on the private node."""
    config_path = tmp_path / "nova-lite.toml"
    config_path.write_text(_config_text(private_rabbitmq, tmp_path / "state"))
    services = Deployment(config_path)
    try:
        for key in (*CONTROL, *COMPUTES):
            await services.start(key)
        yield Config.load(str(config_path), environ={}), services
    finally:
        await services.stop()
        await asyncio.to_thread(services.keep_logs, tmp_path / "logs")


async def _seed(api: NovaAPI, admin: Session) -> None:
    """The flavor, image and network the clients use."""
    ctx = await admin.context()
    for flavor in DEFAULT_FLAVORS:
        await api.conductor.flavor_create(ctx, flavor)
    await api.image.create_from_bytes(
        ctx, DEFAULT_IMAGE_NAME, default_image_bytes(), visibility="public"
    )
    network = await api.network.create_network(ctx, "private", shared=True)
    await api.network.create_subnet(ctx, network.id, "10.0.0.0/16")
    for resource in ("instances", "cores", "ram"):
        await api.conductor.quota_set(ctx, ctx.project_id or "", resource, -1)


async def _hosts_up(api: NovaAPI, admin: Session) -> None:
    """Until the scheduler has heard from every compute host (they report every 2 s)."""
    ctx = await admin.context()
    async with asyncio.timeout(STARTUP):
        for host in COMPUTES:
            # Another process's periodic report: nothing to await but its effect.
            while not await api.scheduler.host_is_up(ctx, host):  # noqa: ASYNC110
                await asyncio.sleep(0.5)


async def _chaos(
    rng: random.Random, node: PrivateRabbitMQ, services: Deployment, counts: dict[str, Any]
) -> None:
    """The restarts and kills, in an order and at intervals drawn from the seed."""
    kinds = [*KILLABLE, *(rng.choice(KILLABLE) for _ in range(KILLS - len(KILLABLE)))]
    events = ["restart"] * RESTARTS + kinds  # every kind killed at least once
    rng.shuffle(events)
    for event in events:
        await asyncio.sleep(rng.uniform(1.0, 2.5))
        if event == "restart":
            await node.restart(outage=rng.uniform(0.3, 2.0))
            counts["restarts"] += 1
        else:
            key = rng.choice(COMPUTES) if event == "compute" else event
            await services.kill(key)
            counts["kills"].append(key)


async def _at_rest(session: Session, server_ids: list[str]) -> list[str]:
    """The status each server comes to rest in (DELETED once gone; ERROR with its fault)."""

    async def rest(server_id: str) -> str:
        try:
            server = await session.servers.wait_for(server_id, RESTING, timeout=SETTLED)
        except InstanceNotFound:
            return "DELETED"
        assert server.task_state is None, (server.id, server.status, server.task_state)
        if server.status == "ERROR":
            assert server.fault is not None, server.id
            return f"ERROR: {server.fault.message[:70]}"
        return server.status

    return list(await asyncio.gather(*(rest(i) for i in server_ids)))


def _consumers(listing: str) -> dict[str, int]:
    rows = (line.split("\t") for line in listing.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


async def test_chaos(
    private_rabbitmq: PrivateRabbitMQ, deployment: tuple[Config, Deployment]
) -> None:
    """20 broker restarts and 5 killed services under load: nothing hung, lost or stuck."""
    config, services = deployment
    rng = random.Random(SEED)
    transport = get_transport(config.transport_url)
    async with transport:
        api = NovaAPI(transport, config)
        admin = await api.login("admin", PASSWORD, project="admin")
        await _seed(api, admin)
        await _hosts_up(api, admin)
        probe = Probe(transport, config.rpc.exchange)
        await probe.worker.start()
        clients = [Clients(admin, random.Random(rng.random())) for _ in range(CLIENTS)]
        counts: dict[str, Any] = {"seed": SEED, "restarts": 0, "kills": []}

        stop = asyncio.Event()
        started = asyncio.get_running_loop().time()
        load = [asyncio.create_task(c.run(stop)) for c in clients]
        sending = asyncio.create_task(probe.send(stop))
        await _chaos(rng, private_rabbitmq, services, counts)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*load, sending), CALL_BOUND + WAIT)
        counts["chaos_seconds"] = round(asyncio.get_running_loop().time() - started)
        await asyncio.wait_for(transport.wait_until_up(), WAIT)

        statuses = await _at_rest(admin, [s.id for s in await admin.servers.list()])
        await asyncio.wait_for(probe.all_arrived(), WAIT)
        [after] = await admin.servers.create("after", flavor="m1.tiny", image=DEFAULT_IMAGE_NAME)
        assert (await admin.servers.wait_for(after.id, "ACTIVE", timeout=WAIT)).status == "ACTIVE"
        consumers = _consumers(await private_rabbitmq.ctl("list_queues", "name", "consumers"))
        report = await Audit(transport, config, stuck_after=0).run(RequestContext.admin())
        await probe.worker.stop()

    outcomes = sum((c.outcomes for c in clients), collections.Counter[str]())
    counts |= {
        "operations": dict(sorted(outcomes.items())),
        "servers": dict(collections.Counter(statuses)),
        "casts": {"confirmed": len(probe.confirmed), "unconfirmed": probe.failed},
    }
    print(f"\nchaos: {counts}")
    hung = [h for c in clients for h in c.hung]
    assert hung == [], f"{counts}\n" + "\n".join(hung)  # no caller hung
    assert probe.confirmed <= probe.received  # no confirmed cast lost
    expected = ["conductor", "scheduler", "network", "compute"]
    expected += [f"{t}.ctl" for t in ("conductor", "scheduler", "network")]
    expected += [f"compute.{h}" for h in COMPUTES]
    assert all(consumers.get(q, 0) >= 1 for q in expected), consumers  # consumers restored
    assert report.clean, "\n".join(f"{f.kind} [{f.host}] {f.detail}" for f in report.findings)
    assert counts["restarts"] == RESTARTS and len(counts["kills"]) == KILLS
