"""The oslo.messaging-style wire format: round trips and refusals."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nova_lite.context import RequestContext
from nova_lite.exceptions import MessageDecodeError, NotFound
from nova_lite.rpc import envelope
from nova_lite.rpc.failures import rebuild_exception

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
contexts = st.builds(
    RequestContext,
    user_id=st.none() | st.text(max_size=20),
    project_id=st.none() | st.text(max_size=20),
    roles=st.lists(st.sampled_from(["admin", "member", "reader"]), max_size=3).map(tuple),
    is_admin=st.booleans(),
)


@given(
    ctx=contexts,
    method=identifiers,
    args=st.dictionaries(identifiers, json_values, max_size=5),
    version=st.none() | st.sampled_from(["1.0", "5.12"]),
    call=st.booleans(),
)
def test_request_round_trips(
    ctx: RequestContext, method: str, args: dict[str, object], version: str | None, call: bool
) -> None:
    """Any JSON arguments and context survive encoding and decoding a request."""
    reply: dict[str, Any] = {"msg_id": "m1", "reply_q": "reply_x"} if call else {}
    body = envelope.encode_request(
        ctx, method, args, namespace=None, version=version, unique_id="u1", **reply
    )
    request = envelope.decode_request(body)
    assert (request.method, request.args, request.context) == (method, args, ctx)
    assert request.version == version and request.is_call is call


@given(result=json_values)
def test_reply_round_trips(result: object) -> None:
    """Any JSON result survives encoding and decoding a reply."""
    reply = envelope.decode_reply(envelope.encode_reply("m1", result=result))
    assert (reply.msg_id, reply.result, reply.failure) == ("m1", result, None)


def test_request_uses_the_oslo_envelope_and_context_keys() -> None:
    """The body is oslo 2.0: a JSON string payload with _context_* and _msg_id fields."""
    ctx = RequestContext(request_id="req-1", user_id="u")
    body = envelope.encode_request(
        ctx,
        "ping",
        {"a": 1},
        namespace="ns",
        version="1.2",
        unique_id="u1",
        msg_id="m1",
        reply_q="reply_q1",
    )
    outer = orjson.loads(body)
    assert outer["oslo.version"] == "2.0"
    inner = orjson.loads(outer["oslo.message"])
    assert inner["method"] == "ping" and inner["args"] == {"a": 1}
    assert inner["_msg_id"] == "m1" and inner["_reply_q"] == "reply_q1"
    assert inner["_context_request_id"] == "req-1" and inner["_context_user_id"] == "u"


def test_unset_namespace_and_version_are_left_out_as_oslo_does() -> None:
    """No "version": null (an oslo server refuses it) and no "namespace": null."""
    body = envelope.encode_request(
        RequestContext(), "ping", {}, namespace=None, version=None, unique_id="u1"
    )
    inner = orjson.loads(orjson.loads(body)["oslo.message"])
    assert "version" not in inner and "namespace" not in inner
    request = envelope.decode_request(body)
    assert (request.version, request.namespace) == (None, None)


def test_user_and_project_travel_under_oslo_context_names_too() -> None:
    """Requests carry oslo.context's user/project keys; requests with only those are read."""
    ctx = RequestContext(user_id="alice", project_id="p1")
    body = envelope.encode_request(ctx, "ping", {}, namespace=None, version=None, unique_id="u")
    inner = orjson.loads(orjson.loads(body)["oslo.message"])
    assert (inner["_context_user"], inner["_context_project"]) == ("alice", "p1")
    from_oslo = {
        "method": "ping",
        "args": {},
        "_context_user": "bob",
        "_context_project": "p2",
        "_context_roles": ["admin"],
        "_context_user_identity": "bob p2 - - -",
    }
    wrapped = orjson.dumps(
        {"oslo.version": "2.0", "oslo.message": orjson.dumps(from_oslo).decode()}
    )
    seen = envelope.decode_request(wrapped).context
    assert (seen.user_id, seen.project_id, seen.roles) == ("bob", "p2", ("admin",))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"oslo.version": "9.9", "oslo.message": "{}"}', "Unsupported envelope version"),
        (b'{"oslo.version": "2.0", "oslo.message": 5}', "oslo.message"),
        (b'{"oslo.version": "2.0", "oslo.message": "{\\"args\\": {}}"}', "'method'"),
        (b'{"method": "x", "args": []}', "'args'"),
        (b'{"method": "x", "_msg_id": 5}', "'_msg_id'"),
        (b'{"method": "x", "_context_roles": 5}', "context"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(body: bytes, problem: str) -> None:
    """Undecodable requests raise MessageDecodeError saying what is wrong."""
    with pytest.raises(MessageDecodeError, match=problem):
        envelope.decode_request(body)


def test_oversized_messages_are_refused() -> None:
    """A body over the size limit is refused before parsing."""
    with pytest.raises(MessageDecodeError, match="exceeds"):
        envelope.decode_request(b" " * 101, max_bytes=100)


def test_failure_round_trips_into_the_same_exception() -> None:
    """encode_failure's JSON rebuilds an allow-listed exception with its kwargs."""
    failure = envelope.decode_reply(
        envelope.encode_reply("m", failure=envelope.encode_failure(NotFound("gone", id="7")))
    ).failure
    assert failure is not None and failure["module"] == "nova_lite.exceptions"
    rebuilt = rebuild_exception(failure)
    assert (
        isinstance(rebuilt, NotFound) and str(rebuilt) == "gone" and rebuilt.kwargs == {"id": "7"}
    )


def test_classes_outside_the_allow_list_are_never_instantiated() -> None:
    """A failure naming a class outside the allowed modules becomes RemoteError."""
    failure = {"class": "system", "module": "os", "message": "rm -rf", "tb": []}
    rebuilt = rebuild_exception(failure)
    assert type(rebuilt).__name__ == "RemoteError"


def _inner(body: bytes) -> dict[str, object]:
    message: dict[str, object] = orjson.loads(orjson.loads(body)["oslo.message"])
    return message


def test_a_call_carries_its_call_monitor_timeout_as_oslo_does() -> None:
    """``_timeout`` is the call's monitor timeout (whole seconds as an int), null when unset."""
    ctx = RequestContext(request_id="req-1")

    def call(client_timeout: float | None) -> bytes:
        return envelope.encode_request(
            ctx, "m", {}, namespace=None, version=None, unique_id="u", msg_id="m1",
            reply_q="reply_x", client_timeout=client_timeout,
        )  # fmt: skip

    assert _inner(call(60.0))["_timeout"] == 60 and isinstance(_inner(call(60.0))["_timeout"], int)
    assert _inner(call(0.5))["_timeout"] == 0.5 and _inner(call(None))["_timeout"] is None
    assert envelope.decode_request(call(2.0)).client_timeout == 2.0
    cast = envelope.encode_request(ctx, "m", {}, namespace=None, version=None, unique_id="u")
    assert "_timeout" not in _inner(cast)


@pytest.mark.parametrize("value", [None, "60", True, 0, -5, [1], {"s": 1}])
def test_an_unusable_call_monitor_timeout_asks_for_no_heartbeats(value: object) -> None:
    """A ``_timeout`` that is not a positive number is ignored, as oslo's server does."""
    body = orjson.dumps(
        {"method": "m", "_msg_id": "m1", "_reply_q": "reply_x", "_timeout": value}
    )  # oslo's unwrapped 1.0 format, read too
    assert envelope.decode_request(body).client_timeout is None


def test_a_heartbeat_is_oslos_empty_reply_that_does_not_end() -> None:
    """A heartbeat reads as one; a reply, or a reply without ``ending``, is an answer."""
    beat = envelope.decode_reply(envelope.encode_heartbeat("m1"))
    assert beat.is_heartbeat and beat.msg_id == "m1"
    assert _inner(envelope.encode_heartbeat("m1")) == {
        "result": None, "failure": None, "ending": False, "_msg_id": "m1",
    }  # fmt: skip
    assert not envelope.decode_reply(envelope.encode_reply("m1", result=None)).is_heartbeat
    no_ending = orjson.dumps({"result": None, "failure": None, "_msg_id": "m1"})
    assert not envelope.decode_reply(no_ending).is_heartbeat
    old_two_part = orjson.dumps({"result": 5, "failure": None, "ending": False, "_msg_id": "m"})
    assert not envelope.decode_reply(old_two_part).is_heartbeat


@given(message=st.dictionaries(st.text(), json_values, max_size=5))
def test_the_envelope_is_the_bytes_orjson_writes_for_oslos_dict(message: dict[str, Any]) -> None:
    """The outer envelope is written without building its dict, to the same bytes:
    quotes, backslashes, control characters and non-ASCII text included."""
    expected = orjson.dumps({"oslo.version": "2.0", "oslo.message": orjson.dumps(message).decode()})
    assert envelope._wrap(message) == expected


def _oslo_body(message: dict[str, Any]) -> bytes:
    return orjson.dumps({"oslo.version": "2.0", "oslo.message": orjson.dumps(message).decode()})


def test_a_context_sent_in_part_is_read_with_the_rest_unset() -> None:
    """A sender that writes only some ``_context_`` keys (an older or foreign one) is read
    with the others at their defaults, and the keys it sends are checked all the same."""
    partial = {"method": "ping", "args": {}, "_context_request_id": "req-x", "_context_user": "u"}
    ctx = envelope.decode_request(_oslo_body(partial)).context
    assert (ctx.request_id, ctx.user_id, ctx.project_id, ctx.roles) == ("req-x", "u", None, ())
    with pytest.raises(MessageDecodeError, match="context"):
        envelope.decode_request(_oslo_body({**partial, "_context_roles": [["nested"]]}))


def test_contexts_differing_in_any_field_are_told_apart() -> None:
    """Decoded contexts are shared between messages only when every field agrees."""
    base = RequestContext(request_id="req-1", user_id="u", roles=("member",))

    def decoded(ctx: RequestContext) -> RequestContext:
        body = envelope.encode_request(ctx, "m", {}, namespace=None, version=None, unique_id="x")
        return envelope.decode_request(body).context

    assert decoded(base) == base
    assert decoded(base) is decoded(base)
    for changed in (
        RequestContext(request_id="req-1", user_id="u", roles=("admin",)),
        RequestContext(request_id="req-1", user_id="u", roles=("member",), is_admin=True),
        RequestContext(request_id="req-1", user_id="v", roles=("member",)),
        RequestContext(request_id="req-1", user_id="u", roles=("member",), auth_token="t"),
    ):
        assert decoded(changed) == changed != base


def test_a_request_names_the_first_optional_field_of_the_wrong_type() -> None:
    """namespace, version, _msg_id, _reply_q and _unique_id are strings or absent."""
    for key in ("namespace", "version", "_msg_id", "_reply_q", "_unique_id"):
        with pytest.raises(MessageDecodeError, match=f"'{key}' must be a string"):
            envelope.decode_request(_oslo_body({"method": "m", key: 5}))


def _request_fields(request: envelope.Request) -> tuple[Any, ...]:
    return (
        request.method, request.args, request.context, request.namespace, request.version,
        request.msg_id, request.reply_q, request.unique_id, request.client_timeout,
        dict(request.trace),
    )  # fmt: skip


@given(ctx=contexts, method=identifiers, args=st.dictionaries(identifiers, json_values, max_size=4))
def test_a_bare_request_is_the_inner_text_of_the_wrapped_one(
    ctx: RequestContext, method: str, args: dict[str, Any]
) -> None:
    """Through an in-process broker a request goes without the outer envelope: its body
    is the wrapped one's ``oslo.message`` text, counts as that wrapped body's size, and a
    decoder of the RabbitMQ wire (``bare=False``, or oslo's 1.0 reading) reads it the same."""
    fields = {"namespace": None, "version": "5.0", "unique_id": "u1", "msg_id": "m1"}
    wrapped = envelope.encode_request(ctx, method, args, reply_q="r", **fields)  # type: ignore[arg-type]
    bare = envelope.encode_request(ctx, method, args, reply_q="r", bare=True, **fields)  # type: ignore[arg-type]
    assert bare == orjson.loads(wrapped)["oslo.message"].encode()
    assert envelope._wrap(orjson.loads(bare)) == wrapped
    assert envelope.wire_size(bare, bare=True) == len(wrapped)
    assert envelope.wire_size(wrapped, bare=False) == len(wrapped)
    read = _request_fields(envelope.decode_request(wrapped))
    assert _request_fields(envelope.decode_request(bare)) == read
    assert _request_fields(envelope.decode_request(bare, bare=True)) == read
    assert _request_fields(envelope.decode_request(wrapped, bare=True)) == read


@given(text=st.text(max_size=300))
def test_a_bare_message_meets_the_limit_exactly_where_its_wrapped_one_does(text: str) -> None:
    """The size limit accepts and refuses a bare message (the in-process broker's) at the
    same byte as the wrapped one: quotes, backslashes and control characters, which the
    envelope escapes, included. Requests and replies alike, sent and received."""
    ctx = RequestContext(user_id="u1")
    fields = {"namespace": None, "version": None, "unique_id": "u1"}
    wrapped = envelope.encode_request(ctx, "m", {"text": text}, **fields)  # type: ignore[arg-type]
    bare = envelope.encode_request(ctx, "m", {"text": text}, bare=True, **fields)  # type: ignore[arg-type]
    limit = len(wrapped)
    assert envelope.decode_request(wrapped, max_bytes=limit).args == {"text": text}
    assert envelope.decode_request(bare, max_bytes=limit, bare=True).args == {"text": text}
    for body, is_bare in ((wrapped, False), (bare, True)):
        assert envelope.fits(body, limit, bare=is_bare)
        assert not envelope.fits(body, limit - 1, bare=is_bare)
        with pytest.raises(MessageDecodeError, match=f"Message of {limit} bytes exceeds"):
            envelope.decode_request(body, max_bytes=limit - 1, bare=is_bare)
    wrapped_reply = envelope.encode_reply("m1", result=text)
    bare_reply = envelope.encode_reply("m1", result=text, bare=True)
    assert envelope.wire_size(bare_reply, bare=True) == len(wrapped_reply)
    limit = len(wrapped_reply)
    for body, is_bare in ((wrapped_reply, False), (bare_reply, True)):
        assert envelope.decode_reply(body, max_bytes=limit, bare=is_bare).result == text
        with pytest.raises(MessageDecodeError, match="exceeds"):
            envelope.decode_reply(body, max_bytes=limit - 1, bare=is_bare)


def test_a_bare_heartbeat_is_oslos_unwrapped_empty_reply() -> None:
    """A heartbeat through an in-process broker is the inner text of the wrapped one."""
    wrapped = envelope.encode_heartbeat("m1")
    bare = envelope.encode_heartbeat("m1", bare=True)
    assert bare == orjson.loads(wrapped)["oslo.message"].encode()
    assert envelope.decode_reply(bare, bare=True).is_heartbeat
    assert envelope.decode_reply(bare).is_heartbeat


def test_only_string_trace_keys_are_read_and_a_tracestate_goes_with_its_parent() -> None:
    """A ``traceparent`` that is no string is no trace context; one with a
    ``tracestate`` gives both (for the handler's full-span path)."""
    base = {"method": "m", "args": {}, "_context_request_id": "req-1"}
    odd = envelope.decode_request(_oslo_body({**base, "_context_traceparent": 5}))
    assert odd.trace == {}
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    plain = envelope.decode_request(_oslo_body({**base, "_context_traceparent": parent}))
    assert plain.trace == {"traceparent": parent}
    both = {**base, "_context_traceparent": parent, "_context_tracestate": "k=v"}
    assert envelope.decode_request(_oslo_body(both)).trace == {
        "traceparent": parent,
        "tracestate": "k=v",
    }
