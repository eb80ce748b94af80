"""Hops per boot: the RPC messages and SQLite statements a boot costs, per service.

Issue 16 asks to count before removing: a boot's time is mostly the messages it
sends and the statements each service's database runs for it. `counting` watches
one cloud while it works: every message its transport publishes (a call, a cast,
a reply or a notification, by the topic it is sent to and the method it names)
and every statement each service's SQLite connection runs (through sqlite3's trace
callback, which sees exactly what SQLite executes, ``BEGIN`` and ``COMMIT``
included). Divided by the servers booted, that is the per-boot table the boot
benchmark prints.

It wraps the transport's ``publish`` on the one instance and hooks
`Database.open` while the block runs, so it costs nothing outside a counted run;
the boot benchmark counts on a separate, untimed run.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from nova_lite.db import Database
from nova_lite.exceptions import MessageDecodeError
from nova_lite.rpc.envelope import decode_request
from nova_lite.transport import Message, Transport

__all__ = ["HopCounts", "counting"]

STATEMENT_TEXT = 160  # characters of a statement's text kept for the JSON's top list
TOP_STATEMENTS = 30  # statements listed by text, most frequent first


@attrs.define
class HopCounts:
    """What one counted run saw: messages by (kind, topic, method), statements by db."""

    messages: collections.Counter[tuple[str, str, str]] = attrs.field(factory=collections.Counter)
    statements: collections.Counter[str] = attrs.field(factory=collections.Counter)
    texts: collections.Counter[tuple[str, str]] = attrs.field(factory=collections.Counter)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def reset(self) -> None:
        """Forget what was counted so far (the set-up before the measured part)."""
        with self._lock:
            self.messages.clear()
            self.statements.clear()
            self.texts.clear()

    def note_message(self, routing_key: str, message: Message) -> None:
        """Count one published message under what it is."""
        self.messages[classify(routing_key, message)] += 1

    def note_statement(self, database: str, sql: str = "") -> None:
        """Count one statement (SQLite's trace callback may call from any thread)."""
        with self._lock:
            self.statements[database] += 1
            self.texts[database, statement_shape(sql)] += 1

    def per_boot(self, servers: int) -> dict[str, Any]:
        """The counts divided by `servers`: the JSON form the benchmark writes."""
        by_topic: dict[str, float] = collections.defaultdict(float)
        methods: dict[str, float] = {}
        for (kind, topic, method), count in self.messages.most_common():
            where = f"{kind} {topic}" if topic else kind
            by_topic[where] += count / servers
            methods[f"{where}.{method}" if method else where] = count / servers
        total_messages = sum(self.messages.values()) / servers
        return {
            "servers": servers,
            "messages_per_boot": round(total_messages, 2),
            "messages_by_topic": {k: round(v, 2) for k, v in sorted(by_topic.items())},
            "messages_by_method": {k: round(v, 2) for k, v in methods.items()},
            "statements_per_boot": round(sum(self.statements.values()) / servers, 2),
            "statements_by_database": {
                name: round(count / servers, 2) for name, count in sorted(self.statements.items())
            },
            "statements_by_text": {
                f"{name}: {text}": round(count / servers, 2)
                for (name, text), count in self.texts.most_common(TOP_STATEMENTS)
            },
        }


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|X'[0-9A-Fa-f]*'")


def statement_shape(sql: str) -> str:
    """A traced statement with its values as ``?`` (the trace shows them expanded)."""
    return _LITERAL.sub("?", " ".join(sql.split()))[:STATEMENT_TEXT]


def classify(routing_key: str, message: Message) -> tuple[str, str, str]:
    """(kind, topic, method) of a published message.

    Requests name their method; a call carries a ``_msg_id`` for its reply, a cast
    none. Notifications go out under ``notifications.<priority>``; anything else that
    is not a request (the body has no method) is a reply.
    """
    if routing_key.startswith("notifications."):
        return "notification", routing_key.removeprefix("notifications."), ""
    try:
        request = decode_request(message.body)
    except MessageDecodeError:
        return "reply", "", ""
    topic = routing_key.split(".", 1)[0]
    return ("call" if request.msg_id else "cast"), topic, request.method


@contextmanager
def counting(transport: Transport) -> Iterator[HopCounts]:
    """Count what `transport` publishes and what every database opened meanwhile runs.

    Databases must be opened inside the block (start the cloud inside it) for their
    statements to be counted.
    """
    counts = HopCounts()
    publish = transport.publish

    async def counted_publish(
        exchange: str, routing_key: str, message: Message, **options: Any
    ) -> None:
        counts.note_message(routing_key, message)
        await publish(exchange, routing_key, message, **options)

    original_open = Database.open

    async def counted_open(self: Database) -> None:
        await original_open(self)
        name = self.name
        await self.set_trace_callback(lambda sql: counts.note_statement(name, sql))

    setattr(transport, "publish", counted_publish)  # noqa: B010 - one instance only
    setattr(Database, "open", counted_open)  # noqa: B010 - restored below
    try:
        yield counts
    finally:
        setattr(Database, "open", original_open)  # noqa: B010
        delattr(transport, "publish")  # the class's method again
