"""Builds and creates across a broker restart, on a RabbitMQ node of the test's own.

The dangerous state is held on purpose: every spawn waits at a gate while the broker
restarts, so builds are caught at every hop (being scheduled, cast to a host,
networking, spawning) with their messages in queues and their calls in flight. The
default configuration is used (``instance_build_timeout = 0``): nothing but the
conductor's reconciliation can end a build the outage stranded.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from nova_lite import objects
from nova_lite.api.client import Session
from nova_lite.api.views import Server
from nova_lite.cloud import Cloud
from nova_lite.conductor.reconcile import RECONCILE_WINDOW
from nova_lite.context import RequestContext
from nova_lite.exceptions import ConnectionLost, MessageUndeliverable, NovaLiteError
from nova_lite.testing import (
    WAIT,
    CloudFactory,
    DriverFaults,
    PrivateRabbitMQ,
    TransportFactory,
    assert_audit_clean,
    conductor_of,
    fake_driver,
    hold,
    unlimited_quota,
)

BURST = 40  # servers asked for while the broker restarts
OUTAGE = 3.0  # seconds between stop_app and start_app
#: The bound on a server's build after the outage: the reconciliation's window, and a
#: build's own time on a busy machine.
SETTLED = RECONCILE_WINDOW + WAIT


@pytest_asyncio.fixture
async def private_clouds(
    private_broker: TransportFactory, tmp_path: Path
) -> AsyncIterator[CloudFactory]:
    """Clouds on the test's private RabbitMQ node, which the test restarts."""
    async with CloudFactory(private_broker, tmp_path / "clouds") as factory:
        yield factory


class Burst:
    """Creates of `count` servers, a few at a time; what each create answered."""

    def __init__(self, session: Session, count: int, *, at_once: int = 8) -> None:
        self.session = session
        self.count = count
        self.created: list[str] = []
        self.refused: collections.Counter[str] = collections.Counter()
        self._slots = asyncio.Semaphore(at_once)

    async def run(self) -> None:
        await asyncio.gather(*(self._create(i) for i in range(self.count)))

    async def _create(self, index: int) -> None:
        async with self._slots:
            try:
                [server] = await self.session.servers.create(
                    f"burst{index}", flavor="m1.tiny", image="cirros"
                )
            except NovaLiteError as exc:
                self.refused[type(exc).__name__] += 1
                return
            self.created.append(server.id)


async def _start_cloud(clouds: CloudFactory, *, durable: bool) -> tuple[Cloud, Session]:
    cloud = await clouds.start(
        computes=2,
        # Few builds at once per host: the others wait in its queue, where a transient
        # queue loses them at the restart (the reconciliation sends them again).
        rpc={"durable_queues": durable, "max_concurrency": 4},
        fake_driver={"vcpus": 128, "memory_mb": 128 * 1024},
    )
    admin = await cloud.login_admin()
    await unlimited_quota(cloud, admin)
    return cloud, admin


async def _ended(session: Session, server_ids: list[str]) -> list[Server]:
    """Each server once it is ACTIVE or ERROR (`WaitTimeout` past the bound)."""
    waits = (session.servers.wait_for(i, "ACTIVE", timeout=SETTLED) for i in server_ids)
    return list(await asyncio.gather(*waits))


def _faults(cloud: Cloud) -> DriverFaults:
    return DriverFaults([fake_driver(cloud.compute(f"compute{i}")) for i in (1, 2)])


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "transient"])
async def test_every_build_in_flight_at_a_broker_restart_ends(
    private_rabbitmq: PrivateRabbitMQ, private_clouds: CloudFactory, durable: bool
) -> None:
    """A restart mid-burst, default config: every server ends ACTIVE or ERROR with a fault."""
    cloud, admin = await _start_cloud(private_clouds, durable=durable)
    burst = Burst(admin, BURST)
    with _faults(cloud).hold("spawn") as gate:
        creating = asyncio.create_task(burst.run())
        await gate.wait_reached()  # builds are spawning (held), others queued behind them
        await private_rabbitmq.restart(outage=OUTAGE)
    await asyncio.wait_for(creating, SETTLED)

    servers = await _ended(admin, [s.id for s in await admin.servers.list()])

    outcomes = collections.Counter(s.status for s in servers)
    assert set(outcomes) <= {"ACTIVE", "ERROR"}, outcomes
    assert all(s.fault is not None for s in servers if s.status == "ERROR")
    assert outcomes["ACTIVE"] > 0, outcomes  # the burst goes on after the restart
    await assert_audit_clean(cloud)


# -- no success hidden behind an error --------------------------------------------


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


async def test_a_create_sent_again_with_its_request_id_is_the_same_create(
    memory_clouds: CloudFactory,
) -> None:
    """Same X-OpenStack-Request-ID and request: the same servers, quota spent once."""
    cloud = await memory_clouds.start(computes=1)
    admin = await cloud.login_admin()
    retrying = cloud.api.session(admin.token, global_request_id=_request_id())

    [first] = await retrying.servers.create("web", flavor="m1.tiny", image="cirros")
    await retrying.servers.wait_for(first.id, "ACTIVE", timeout=WAIT)
    [again] = await retrying.servers.create("web", flavor="m1.tiny", image="cirros")
    [other] = await retrying.servers.create("db", flavor="m1.tiny", image="cirros")
    [plain1] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
    [plain2] = await admin.servers.create("web", flavor="m1.tiny", image="cirros")

    assert again.id == first.id and again.status == "ACTIVE"
    assert len({first.id, other.id, plain1.id, plain2.id}) == 4
    ctx = await admin.context()
    quota = await cloud.api.conductor.quota_get(ctx, ctx.project_id or "")
    assert quota["usage"]["instances"] == 4
    actions = await cloud.api.conductor.actions_list(ctx, first.id)
    assert [a.action for a in actions] == ["create"]
    for server in (other, plain1, plain2):
        await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    await assert_audit_clean(cloud)


async def test_a_create_whose_reply_was_lost_is_carried_out_once(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conductor recorded the servers but its reply was lost: asked again, one server."""
    cloud = await memory_clouds.start(computes=1)
    admin = await cloud.login_admin()
    conductor = cloud.api.conductor
    record = conductor.create_instances
    lost: list[str] = []

    async def reply_lost_once(ctx: RequestContext, instances: list[objects.Instance]) -> Any:
        done = await record(ctx, instances)
        if not lost:
            lost.append(done[0].uuid)
            raise ConnectionLost("The connection to the broker was lost (test).")
        return done

    monkeypatch.setattr(conductor, "create_instances", reply_lost_once)
    [server] = await admin.servers.create("once", flavor="m1.tiny", image="cirros")

    assert [server.id] == lost
    assert [s.id for s in await admin.servers.list()] == [server.id]
    await admin.servers.wait_for(server.id, "ACTIVE", timeout=WAIT)
    await assert_audit_clean(cloud)


async def test_a_create_that_cannot_be_placed_answers_an_error_and_leaves_nothing(
    memory_clouds: CloudFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded, then the placement request cannot be sent: an error, and no server left."""
    cloud = await memory_clouds.start(computes=1)
    admin = await cloud.login_admin()

    async def undeliverable(ctx: RequestContext, specs: list[objects.RequestSpec]) -> None:
        raise MessageUndeliverable("Cannot cast: no worker queue is bound for it (test).")

    monkeypatch.setattr(cloud.api.conductor, "schedule_and_build_instances", undeliverable)
    with pytest.raises(MessageUndeliverable):
        await admin.servers.create("never", flavor="m1.tiny", image="cirros", count=2)

    assert await admin.servers.list() == []
    await assert_audit_clean(cloud)


class Client:
    """A client creating one server, retrying on an error answer as it is told to.

    With a request id, every attempt carries the same ``X-OpenStack-Request-ID``.
    """

    ATTEMPTS = 3

    def __init__(self, cloud: Cloud, admin: Session, name: str, *, with_id: bool) -> None:
        self.name = name
        gid = _request_id() if with_id else None
        self.session = cloud.api.session(admin.token, global_request_id=gid)
        self.answers: list[str] = []  # the server id of each success, or the error's class

    async def create(self) -> None:
        for _ in range(self.ATTEMPTS):
            try:
                [server] = await self.session.servers.create(
                    self.name, flavor="m1.tiny", image="cirros"
                )
            except NovaLiteError as exc:
                self.answers.append(type(exc).__name__)
                continue
            self.answers.append(server.id)
            return


@pytest.mark.parametrize("with_id", [True, False], ids=["request-id", "no-request-id"])
async def test_no_create_answered_with_an_error_made_a_server_across_a_restart(
    private_rabbitmq: PrivateRabbitMQ, private_clouds: CloudFactory, with_id: bool
) -> None:
    """Creates recorded, their replies held, then the broker restarts: no server unanswered for.

    The conductor records each server and holds its answer until the broker has
    gone, so every create's outcome is unknown to the API when the connection drops.
    Clients retry on errors as told; with a request id, the retries are the same create.
    """
    cloud, admin = await _start_cloud(private_clouds, durable=True)
    clients = [Client(cloud, admin, f"c{i}", with_id=with_id) for i in range(BURST // 2)]
    store = conductor_of(cloud).instances.store
    with hold([store], "create", after=True) as recorded:
        creating = asyncio.gather(*(c.create() for c in clients))
        await recorded.wait_reached()  # a create is recorded; its answer waits
        await private_rabbitmq.stop_app()
        await asyncio.sleep(OUTAGE)
        await private_rabbitmq.start_app()
    await asyncio.wait_for(creating, SETTLED)

    servers = await _ended(admin, [s.id for s in await admin.servers.list()])

    answered = {a for c in clients for a in c.answers if not a[0].isupper()}
    assert {s.id for s in servers} == answered  # every server answered for, none hidden
    names = collections.Counter(s.name for s in servers)
    assert all(n == 1 for n in names.values()), names  # retries made no duplicates
    assert recorded.held > 0
    await assert_audit_clean(cloud)
