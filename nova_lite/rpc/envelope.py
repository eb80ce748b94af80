"""The wire format, following oslo.messaging's RabbitMQ driver.

Every message body is an oslo "2.0" envelope whose payload is itself a JSON string::

    {"oslo.version": "2.0", "oslo.message": "<JSON text of the message>"}

A request message (rpc.call or rpc.cast)::

    {"method": "build_and_run_instance", "args": {...},
     "namespace": "...", "version": "5.0",        # only when set, as oslo's client
     "_unique_id": "<hex>",
     "_msg_id": "<hex>", "_reply_q": "reply_<hex>",          # rpc.call only
     "_timeout": 60,             # rpc.call only: oslo's call_monitor_timeout, or null
     "_context_request_id": "req-...", "_context_user_id": ..., ...,
     "_context_user": ..., "_context_project": ...,    # oslo.context's spellings
     "_context_traceparent": "00-<trace>-<span>-01"}  # only sent inside a span

A reply, published to the default exchange with the caller's ``_reply_q`` as routing
key::

    {"result": ..., "failure": null, "ending": true, "_msg_id": "<hex>"}

On failure, ``failure`` is the JSON text of ``{"class", "module", "message", "tb",
"args", "kwargs"}``, as oslo.messaging writes it. A call-monitor heartbeat (the
server is still on a call whose request carried ``_timeout``) is a reply with
nothing in it and ``"ending": false``, as oslo's ``AMQPIncomingMessage.heartbeat``
sends it::

    {"result": null, "failure": null, "ending": false, "_msg_id": "<hex>"}

Through a broker of this process (`nova_lite.transport.Transport.in_process`, the
memory broker) the outer envelope is left out (``bare=True`` on both sides): no
other program reads those bytes, and the envelope would cost a second JSON
encoding and parse per message. The message is then the inner JSON text itself,
which is also oslo's unwrapped 1.0 format, so any decoder reads it; the size
limits are checked on the size the enveloped message would have (`wire_size`),
so that the same messages are accepted and refused on either broker.
"""

from __future__ import annotations

import operator
import traceback
import types
from collections.abc import Mapping
from typing import Any

import orjson

from nova_lite.context import RequestContext
from nova_lite.exceptions import MessageDecodeError, NovaLiteError
from nova_lite.tracing import propagation
from nova_lite.tracing.light import HANDED_MAX, HANDED_OVER, Hop

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "Reply",
    "Request",
    "decode_reply",
    "decode_request",
    "encode_failure",
    "encode_heartbeat",
    "encode_reply",
    "encode_request",
    "fits",
    "wire_size",
]

OSLO_VERSION = "2.0"
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_CONTEXT_PREFIX = "_context_"
_CONTEXT_KEYS = tuple((name, _CONTEXT_PREFIX + name) for name in RequestContext().to_dict())
# oslo.context's RequestContext writes and reads the user and project as ``user`` and
# ``project`` (Nova's own context sends both spellings): nova_lite does the same.
_OSLO_ALIASES = (("user_id", "_context_user"), ("project_id", "_context_project"))
_TRACEPARENT = _CONTEXT_PREFIX + "traceparent"
_TRACESTATE = _CONTEXT_PREFIX + "tracestate"
_TRACE_KEYS = tuple((key, _CONTEXT_PREFIX + key) for key in propagation.KEYS)
_NO_TRACE: Mapping[str, str] = types.MappingProxyType({})


class Request:
    """A decoded request: which method, with what arguments, for whom.

    A plain slotted class rather than an attrs one: one is made for every message a
    worker takes, and its fields are set once, by the decoder (treat it as frozen).
    """

    __slots__ = (
        "args",
        "client_timeout",
        "context",
        "method",
        "msg_id",
        "namespace",
        "reply_q",
        "trace",
        "unique_id",
        "version",
    )

    def __init__(
        self,
        method: str,
        args: dict[str, Any],
        context: RequestContext,
        namespace: str | None = None,
        version: str | None = None,
        msg_id: str | None = None,
        reply_q: str | None = None,
        unique_id: str | None = None,
        client_timeout: float | None = None,
        trace: Mapping[str, str] = _NO_TRACE,
    ) -> None:
        self.method = method
        self.args = args
        self.context = context
        self.namespace = namespace
        self.version = version
        self.msg_id = msg_id
        self.reply_q = reply_q
        self.unique_id = unique_id
        # Seconds the caller waits without hearing from us (oslo's ``_timeout``, the
        # call_monitor_timeout): the worker sends heartbeats well within it. None: no
        # heartbeats wanted.
        self.client_timeout = client_timeout
        # The sender's W3C trace context (``traceparent``, ``tracestate``), if it sent one.
        self.trace = trace

    def __repr__(self) -> str:
        kind = "call" if self.is_call else "cast"
        return f"<Request {kind} {self.method} msg_id={self.msg_id} unique_id={self.unique_id}>"

    @property
    def is_call(self) -> bool:
        """Whether the caller waits for a reply (rpc.call) rather than not (rpc.cast)."""
        return self.msg_id is not None and self.reply_q is not None


class Reply:
    """A decoded reply: a result, or a failure to rebuild on the caller's side.

    Slotted and plain, as `Request` is (one per call): treat it as frozen.
    """

    __slots__ = ("ending", "failure", "msg_id", "result")

    def __init__(
        self,
        msg_id: str,
        result: Any = None,
        failure: dict[str, Any] | None = None,
        ending: bool = True,
    ) -> None:
        self.msg_id = msg_id
        self.result = result
        self.failure = failure
        self.ending = ending

    def __repr__(self) -> str:
        return (
            f"Reply(msg_id={self.msg_id!r}, result={self.result!r}, "
            f"failure={self.failure!r}, ending={self.ending!r})"
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Reply:
            return NotImplemented
        return (self.msg_id, self.result, self.failure, self.ending) == (
            other.msg_id,
            other.result,
            other.failure,
            other.ending,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def is_heartbeat(self) -> bool:
        """Whether this is a call-monitor heartbeat: the server is on it, no answer yet.

        As oslo's reply waiter reads it: no result, no failure, ``ending`` false. A
        reply without ``ending`` at all is an answer (nova_lite always wrote one).
        """
        return not self.ending and self.result is None and self.failure is None


_WRAP_HEAD = b'{"oslo.version":"' + OSLO_VERSION.encode() + b'","oslo.message":'


# What the envelope adds to a bare message of n bytes is at most 5n + this: the head,
# the closing brace, the string's quotes, and each byte escaped (``\u00XX`` at worst).
_WRAP_ROOM = len(_WRAP_HEAD) + 3


def _wrap(message: Mapping[str, Any]) -> bytes:
    # The bytes orjson writes for {"oslo.version": ..., "oslo.message": <the JSON
    # text>}, without building that dict: only the message's text is encoded.
    return _WRAP_HEAD + orjson.dumps(orjson.dumps(message).decode()) + b"}"


def _body(message: Mapping[str, Any], bare: bool) -> bytes:
    """The message as a body: its JSON text itself (`bare`), or in oslo's envelope."""
    return orjson.dumps(message) if bare else _wrap(message)


def wire_size(body: bytes, *, bare: bool) -> int:
    """The size a body counts for against ``[rpc] max_message_bytes``.

    Its own length, or for a `bare` one (the JSON text of a message, sent without
    its envelope through an in-process broker) the length of the envelope `_wrap`
    would have written around it: the limits then accept and refuse the same
    messages as on a broker whose messages are wrapped.
    """
    if not bare:
        return len(body)
    return len(_WRAP_HEAD) + len(orjson.dumps(body.decode())) + 1


def fits(body: bytes, max_bytes: int, *, bare: bool) -> bool:
    """Whether `body` is within `max_bytes` (`wire_size`), computed only near the limit."""
    size = len(body)
    if not bare:
        return size <= max_bytes
    return size * 6 + _WRAP_ROOM <= max_bytes or wire_size(body, bare=True) <= max_bytes


def _too_large(size: int, max_bytes: int) -> MessageDecodeError:
    return MessageDecodeError(f"Message of {size} bytes exceeds the {max_bytes}-byte limit.")


def _unwrap(body: bytes, max_bytes: int, bare: bool = False) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise _too_large(len(body), max_bytes)
    try:
        outer = orjson.loads(body)
        if not isinstance(outer, dict):
            raise MessageDecodeError("Message body is not a JSON object.")
        if "oslo.message" not in outer:
            # oslo's unwrapped 1.0 format, or a bare message (checked as if wrapped)
            if bare and len(body) * 6 + _WRAP_ROOM > max_bytes:  # `fits`, inline
                size = wire_size(body, bare=True)
                if size > max_bytes:
                    raise _too_large(size, max_bytes)
            return outer
        if outer.get("oslo.version") != OSLO_VERSION:
            raise MessageDecodeError(
                f"Unsupported envelope version {outer.get('oslo.version')!r}; "
                f"expected {OSLO_VERSION!r}."
            )
        payload = outer["oslo.message"]
        if not isinstance(payload, str):
            raise MessageDecodeError("'oslo.message' is not a JSON string.")
        inner = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MessageDecodeError(f"Message body is not valid JSON: {exc}") from None
    if not isinstance(inner, dict):
        raise MessageDecodeError("'oslo.message' is not a JSON object.")
    return inner


def encode_request(
    ctx: RequestContext,
    method: str,
    args: Mapping[str, Any],
    *,
    namespace: str | None,
    version: str | None,
    unique_id: str,
    msg_id: str | None = None,
    reply_q: str | None = None,
    client_timeout: float | None = None,
    bare: bool = False,
    sent: object = None,
) -> bytes:
    """The body of an rpc.call (with `msg_id` and `reply_q`) or rpc.cast message.

    A call carries `client_timeout` as ``_timeout`` (null when unset), as oslo's
    driver writes its call_monitor_timeout: a server that reads it sends heartbeats.
    `bare`: without the outer envelope (for an in-process broker, see the module).
    `sent`: what the RPC hooks made of the message (`nova_lite.telemetry.rpc`); a
    `Hop` (tracing alone on, not made current) gives the ``traceparent``, and,
    `bare`, is handed over beside it (`nova_lite.tracing.light.HANDED_OVER`); else
    the current span does (`propagation.write`).
    """
    message: dict[str, Any] = {"method": method, "args": args, "_unique_id": unique_id}
    # As oslo.messaging's client: no key for an unset namespace or version (a server
    # reads a missing version as "1.0"; oslo's refuses an explicit null).
    if namespace is not None:
        message["namespace"] = namespace
    if version is not None:
        message["version"] = version
    if msg_id is not None:
        message["_msg_id"] = msg_id
        message["_reply_q"] = reply_q
        message["_timeout"] = None if client_timeout is None else _wire_seconds(client_timeout)
    message.update(ctx.wire_fields(_CONTEXT_PREFIX))
    message["_context_user"] = ctx.user_id  # the two `_OSLO_ALIASES`
    message["_context_project"] = ctx.project_id
    # Inside a span, its W3C trace context as extra context keys, as oslo's profiler
    # carries its ``trace_info`` (one more ``_context_`` key, which oslo.context ignores).
    if sent is not None and type(sent) is Hop:  # `Hop.traceparent`, inline
        flags = "01" if sent.sampled else "00"
        parent = message[_TRACEPARENT] = f"00-{sent.trace_id}-{sent.span_id}-{flags}"
        if bare:  # an in-process broker's: the handler finds the hop by it
            if len(HANDED_OVER) >= HANDED_MAX:
                HANDED_OVER.clear()
            HANDED_OVER[parent] = sent
    else:
        propagation.write(message, _CONTEXT_PREFIX)
    return _body(message, bare)


def _wire_seconds(value: float | None) -> float | int | None:
    """Seconds as oslo's server reads ``_timeout`` (``int(...)``): whole ones as an int."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _client_timeout(message: Mapping[str, Any]) -> float | None:
    """``_timeout`` if it is a positive number; anything else asks for no heartbeats.

    Lenient, as oslo's server is (it logs and ignores a value it cannot use): an
    old or foreign client's odd value must not make its call undecodable.
    """
    value = message.get("_timeout")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)


def _trace_of(message: Mapping[str, Any]) -> Mapping[str, str]:
    """The sender's trace context keys, if it sent any (strings only)."""
    if _TRACEPARENT not in message:
        return _NO_TRACE
    if _TRACESTATE not in message:  # nova_lite's own hops: the traceparent alone
        parent = message[_TRACEPARENT]
        return {"traceparent": parent} if type(parent) is str else {}
    found = {}
    for key, wire in _TRACE_KEYS:
        value = message.get(wire)
        if type(value) is str:
            found[key] = value
    return found


_OPTIONAL_STRINGS = ("namespace", "version", "_msg_id", "_reply_q", "_unique_id")


def _optional_str(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is not None and not isinstance(value, str):
        raise MessageDecodeError(f"Field {key!r} must be a string, not {type(value).__name__}.")
    return value


_WIRE_KEYS = tuple(key for _, key in _CONTEXT_KEYS) + tuple(a for _, a in _OSLO_ALIASES)
_ROLES_KEY = _CONTEXT_PREFIX + "roles"
# Every context key but the roles, read at once (a C call) when all are there, as
# nova_lite and oslo write them; the roles (a JSON list) go beside them in the key.
_OTHER_KEYS = tuple(key for key in _WIRE_KEYS if key != _ROLES_KEY)
_others_of = operator.itemgetter(*_OTHER_KEYS)
# Contexts decoded lately, by their wire values: the messages of one request (a
# build's dozen calls and casts) all carry the same context, and a RequestContext is
# immutable, so each is built and checked once. Bounded: emptied when full.
_CONTEXTS: dict[tuple[Any, ...], RequestContext] = {}
_CONTEXTS_MAX = 4096


def _context_of(message: Mapping[str, Any]) -> RequestContext:
    """The request context a message carries (built once per distinct context)."""
    try:
        others = _others_of(message)
    except KeyError:  # a sender that leaves some out (None, as `get` reads them)
        others = tuple(message.get(key) for key in _OTHER_KEYS)
    roles = message.get(_ROLES_KEY)
    try:
        key = (others, tuple(roles) if type(roles) is list else roles)
        found = _CONTEXTS.get(key)
    except TypeError:  # an unhashable value where a string belongs: let the checks say
        key, found = None, None
    if found is not None:
        return found
    context = {field: message.get(wire) for field, wire in _CONTEXT_KEYS}
    for field, alias in _OSLO_ALIASES:
        if context.get(field) is None:
            context[field] = message.get(alias)
    try:
        ctx = RequestContext.from_dict(context)
    except (TypeError, ValueError) as exc:
        raise MessageDecodeError(f"The request context is invalid: {exc}") from None
    if key is not None:
        if len(_CONTEXTS) >= _CONTEXTS_MAX:
            _CONTEXTS.clear()
        _CONTEXTS[key] = ctx
    return ctx


def decode_request(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, bare: bool = False
) -> Request:
    """Parse a request body; raise `MessageDecodeError` naming what is wrong.

    Either form is read, wrapped or not; `bare` (an in-process broker's) says that
    an unwrapped body is measured against `max_bytes` as if it were wrapped.
    """
    message = _unwrap(body, max_bytes, bare)
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise MessageDecodeError("Field 'method' is missing or not a non-empty string.")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise MessageDecodeError("Field 'args' must be a JSON object.")
    ctx = _context_of(message)
    get = message.get
    namespace, version = get("namespace"), get("version")
    msg_id, reply_q, unique_id = get("_msg_id"), get("_reply_q"), get("_unique_id")
    for value in (namespace, version, msg_id, reply_q, unique_id):
        if value is not None and type(value) is not str:
            for key in _OPTIONAL_STRINGS:  # name the first wrong one
                _optional_str(message, key)
    timeout = get("_timeout")
    parent = get(_TRACEPARENT)  # `_trace_of`, inline for nova_lite's own traceparent alone
    if parent is None:
        trace = _NO_TRACE
    elif type(parent) is str and _TRACESTATE not in message:
        trace = {"traceparent": parent}
    else:
        trace = _trace_of(message)
    return Request(
        method,
        args,
        ctx,
        namespace,
        version,
        msg_id,
        reply_q,
        unique_id,
        None if timeout is None else _client_timeout(message),
        trace,
    )


def encode_reply(
    msg_id: str, *, result: Any = None, failure: str | None = None, bare: bool = False
) -> bytes:
    """The body of a reply to the rpc.call `msg_id` (`bare`: as `encode_request`)."""
    return _body({"result": result, "failure": failure, "ending": True, "_msg_id": msg_id}, bare)


def encode_heartbeat(msg_id: str, *, bare: bool = False) -> bytes:
    """A call-monitor heartbeat for the call `msg_id`: still on it, no answer yet."""
    return _body({"result": None, "failure": None, "ending": False, "_msg_id": msg_id}, bare)


def decode_reply(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, bare: bool = False
) -> Reply:
    """Parse a reply body; raise `MessageDecodeError` naming what is wrong (`bare`: as
    `decode_request`)."""
    message = _unwrap(body, max_bytes, bare)
    msg_id = message.get("_msg_id")
    if not isinstance(msg_id, str):
        raise MessageDecodeError("Reply has no '_msg_id'.")
    failure = message.get("failure")
    if failure is not None:
        try:
            failure = orjson.loads(failure) if isinstance(failure, str) else failure
        except orjson.JSONDecodeError:
            failure = {"class": "RemoteError", "module": "", "message": str(failure)}
        if not isinstance(failure, dict):
            failure = {"class": "RemoteError", "module": "", "message": str(failure)}
    ending = message.get("ending", True) is not False
    return Reply(msg_id, message.get("result"), failure, ending)


def encode_failure(exc: BaseException) -> str:
    """An exception as oslo.messaging's failure JSON text."""
    kwargs = exc.kwargs if isinstance(exc, NovaLiteError) else {}
    try:
        args = orjson.loads(orjson.dumps(list(exc.args), default=str))
        kwargs = orjson.loads(orjson.dumps(kwargs, default=str))
    except TypeError:
        args, kwargs = [str(a) for a in exc.args], {}
    return orjson.dumps(
        {
            "class": type(exc).__name__,
            "module": type(exc).__module__,
            "message": str(exc),
            "tb": traceback.format_exception(exc),
            "args": args,
            "kwargs": kwargs,
        }
    ).decode()
