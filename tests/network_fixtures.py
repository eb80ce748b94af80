"""A network service on its own, driven over RPC: the fixture the network tests share.

The manager is served on a topic unique to the test as well as on a unique
exchange (worker queues are named after the topic alone, so two runs sharing one
RabbitMQ would otherwise consume each other's queue).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.network.manager import NetworkManager
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.service import Service
from nova_lite.testing import TransportFactory

__all__ = ["ADMIN", "ALICE", "BOB", "READER", "net", "network_with_subnet"]

ADMIN = RequestContext.admin(user_id="admin", project_id="admin")
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
READER = RequestContext(user_id="rita", project_id="p-alice", roles=("reader",))
BOB = RequestContext(user_id="bob", project_id="p-bob", roles=("member",))


@pytest.fixture
async def net(broker: TransportFactory, tmp_path: Path) -> AsyncIterator[NetworkAPI]:
    """A network service on host1 (small quotas: see `config`) and the NetworkAPI to it."""
    topic = broker.name("network")

    class TestManager(NetworkManager):
        pass

    class TestAPI(NetworkAPI):
        pass

    TestManager.topic = TestAPI.topic = topic
    transport = await broker.connect()
    config = Config.load(
        environ={},
        state_path=str(tmp_path),
        rpc={**broker.rpc_options(), "timeout": 15},
        network={"quota_security_group": 4, "quota_router": 3},
    )
    async with Service(TestManager(config, transport, "host1"), serializer=objects.serializer()):
        yield TestAPI(transport, config)


async def network_with_subnet(
    net: NetworkAPI, ctx: RequestContext, cidr: str = "10.1.0.0/24", **subnet: Any
) -> tuple[objects.Network, objects.Subnet]:
    """A network of `ctx`'s project with one subnet (Neutron's attributes in `subnet`)."""
    (network,) = await net.create_networks(ctx, [{"name": "n"}])
    (made,) = await net.create_subnets(ctx, [{"network_id": network.id, "cidr": cidr, **subnet}])
    return network, made
