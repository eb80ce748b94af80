"""The RabbitMQ transport's batching writer: one loop turn's frames, one socket write."""

from __future__ import annotations

import asyncio

from transports.rabbitmq import _BatchingWriter


class FakeWriter:
    """Records the writes that reach the socket, as a StreamWriter would take them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.transport = object()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    async def drain(self) -> None:
        self.events.append("drain")

    def write_eof(self) -> None:
        self.events.append("eof")

    def close(self) -> None:
        self.events.append("close")

    def can_write_eof(self) -> bool:
        return True


async def next_turn() -> None:
    """Let the event loop run the callbacks that are ready now."""
    await asyncio.sleep(0)


async def test_the_frames_of_one_turn_go_out_as_one_write() -> None:
    """Frames written before the loop moves on are joined, in order, into one write."""
    inner = FakeWriter()
    writer = _BatchingWriter(inner)  # type: ignore[arg-type]
    for frame in (b"a", b"bb", b"ccc"):
        writer.write(frame)
    assert inner.writes == []  # held until the turn ends
    await next_turn()
    assert inner.writes == [b"abbccc"]
    writer.write(b"d")
    await next_turn()
    assert inner.writes == [b"abbccc", b"d"]


async def test_drain_eof_and_close_send_what_is_held_first() -> None:
    """Flow control and the closing frames see every byte written before them."""
    inner = FakeWriter()
    writer = _BatchingWriter(inner)  # type: ignore[arg-type]
    writer.write(b"publish")
    await writer.drain()
    assert (inner.writes, inner.events) == ([b"publish"], ["drain"])
    writer.write(b"close-frame")
    writer.write_eof()
    writer.write(b"late")
    writer.close()
    assert inner.writes == [b"publish", b"close-frame", b"late"]
    assert inner.events == ["drain", "eof", "close"]
    assert writer.can_write_eof()  # the rest is the inner writer's


async def test_nothing_is_written_to_a_closing_stream() -> None:
    """What is held when the stream started closing is dropped, not written after it."""
    inner = FakeWriter()
    writer = _BatchingWriter(inner)  # type: ignore[arg-type]
    writer.write(b"frame")
    inner.closing = True
    await next_turn()
    assert inner.writes == []
