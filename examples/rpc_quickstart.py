"""rpc.call and rpc.cast between an Invoker and a Worker, on the transport a URL names.

Run it with no argument for the in-memory broker, or give a RabbitMQ URL:

    python examples/rpc_quickstart.py
    python examples/rpc_quickstart.py amqp://guest:guest@127.0.0.1:5672/
"""

import asyncio
import sys

from nova_lite import Invoker, RequestContext, Target, Worker, endpoint, get_transport
from nova_lite.log import configure_logging


class Calculator:
    """An endpoint: its `@endpoint` coroutine methods are callable over RPC."""

    target = Target(version="1.1")

    def __init__(self) -> None:
        self.notes: asyncio.Queue[str] = asyncio.Queue()

    @endpoint
    async def add(self, ctx: RequestContext, a: int, b: int) -> int:
        return a + b

    @endpoint
    async def note(self, ctx: RequestContext, text: str) -> None:
        await self.notes.put(f"{ctx.user_id}: {text}")


async def main(url: str) -> None:
    async with get_transport(url) as transport:
        calculator = Calculator()
        target = Target(topic="calculator", server="host1")
        async with Worker(transport, target, [calculator]):
            invoker = Invoker(transport, Target(topic="calculator", version="1.0"), timeout=10)
            ctx = RequestContext(user_id="alice", project_id="demo")
            print("add(2, 3) =", await invoker.call(ctx, "add", a=2, b=3))
            await invoker.cast(ctx, "note", text="hello")
            print("cast received:", await calculator.notes.get())
            to_host1 = invoker.prepare(server="host1")
            print("add on host1 =", await to_host1.call(ctx, "add", a=40, b=2))


if __name__ == "__main__":
    configure_logging(level="warning")  # the services log at info level by default
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "memory://"))
