"""Boot servers on a whole in-process cloud (in-memory broker, SQLite, fake hypervisors)."""

import asyncio
import tempfile

from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.log import configure_logging


async def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        config = Config.load(state_path=state)  # + the file/env settings, if any
        async with Cloud(config, computes=2) as cloud:
            session = await cloud.login_admin()
            (server,) = await session.servers.create("web1", flavor="m1.tiny", image="cirros")
            print("created:", server.name, server.status)
            server = await session.servers.wait_for(server.id, "ACTIVE")
            print("booted: ", server.name, server.status, server.host, server.ip)
            await session.servers.delete(server.id)
            server = await session.servers.wait_for(server.id, "DELETED")
            print("deleted:", server.name, server.status)


if __name__ == "__main__":
    configure_logging(level="warning")  # the services log at info level by default
    asyncio.run(main())
