"""Each service's ``rpcapi`` class and its manager's endpoints agree, both ways.

For every service manager (constructed, never started), its endpoints come from
``manager.endpoints()`` (so a manager composed of parts is read the same way). Every
public coroutine of the service's rpcapi class is called with sample arguments built
from its own annotations, against a recording Invoker that answers each call with a
sample of the endpoint's return annotation. Then, method by method:

- every remote method the rpcapi sends exists as an endpoint;
- every endpoint is sent by some rpcapi method, or is in `NOT_SENT` with a reason;
- the keyword arguments sent are parameters of the endpoint, every required one is
  sent, and the values sent (through the serializer, as on the wire) fit the
  endpoint's annotations (the typed boundary's own check).

Mismatches are reported all at once, naming service, rpcapi method, remote method
and argument.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import importlib
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import InvalidRpcArguments
from nova_lite.launcher import SERVICES
from nova_lite.rpc.dispatcher import Dispatcher, signature_of
from nova_lite.rpc.endpoint import rpc_methods
from nova_lite.rpcapi import RPCAPI
from nova_lite.service import Manager
from transports.memory import MemoryTransport

CTX = RequestContext(user_id="u1", project_id="p1", auth_token="t0ken")

#: Endpoints no rpcapi method sends, each with the reason it is still an endpoint.
NOT_SENT: dict[str, str] = {}


@attrs.define
class Sent:
    """One request the rpcapi made: which rpcapi method, which remote method, what args."""

    rpcapi_method: str
    method: str
    kwargs: dict[str, Any]
    cast: bool


class RecordingInvoker:
    """Stands in for an rpcapi's Invoker: records each call and cast, sends nothing."""

    def __init__(self, returns: Callable[[str], Any]) -> None:
        self.sent: list[Sent] = []
        self.current = ""
        self._returns = returns

    def prepare(self, **options: Any) -> RecordingInvoker:
        return self

    def can_send_version(self, version: str | None = None) -> bool:
        return True

    async def call(self, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        self.sent.append(Sent(self.current, method, kwargs, cast=False))
        return self._returns(method)

    async def cast(self, ctx: RequestContext, method: str, **kwargs: Any) -> None:
        self.sent.append(Sent(self.current, method, kwargs, cast=True))


def sample(tp: Any, tmp_path: Path) -> Any:
    """A plausible value of type `tp` (the first member of a union, one-element lists)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object or tp is str:
        return "x"
    if tp is bool:
        return True
    if tp is int:
        return 1
    if tp is float:
        return 1.0
    if tp is bytes:
        return b"data"
    if tp is type(None):
        return None
    if tp is datetime.datetime:
        return objects.utcnow()
    if isinstance(tp, type) and issubclass(tp, Path):
        return tmp_path / "sample"
    if origin in (typing.Union, __import__("types").UnionType):
        return sample(next(a for a in args if a is not type(None)), tmp_path)
    if origin in (list, tuple, set, frozenset, typing.Sequence):
        item = sample(args[0], tmp_path) if args else "x"
        return (origin if origin in (list, tuple, set, frozenset) else list)([item])
    if origin in (dict, typing.Mapping) or tp is dict:
        return {}
    if isinstance(tp, type) and attrs.has(tp):
        return _sample_object(tp, tmp_path)
    return None


def _sample_object(cls: type, tmp_path: Path) -> Any:
    hints = typing.get_type_hints(cls)
    values = {
        field.name: sample(hints[field.name], tmp_path)
        for field in attrs.fields(cls)
        if field.default is attrs.NOTHING and field.init
    }
    return cls(**values)


def _rpcapi_class(service: str, topic: str) -> type[RPCAPI]:
    module = importlib.import_module(f"nova_lite.{service}.rpcapi")
    found = [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, RPCAPI) and cls.topic == topic
    ]
    assert len(found) == 1, f"nova_lite.{service}.rpcapi has {len(found)} RPCAPI classes"
    return found[0]


def _endpoints(manager: Manager) -> dict[str, Callable[..., Any]]:
    methods: dict[str, Callable[..., Any]] = {}
    for part in manager.endpoints():
        for name, method in rpc_methods(part).items():
            assert name not in methods, f"{type(manager).__name__}: {name} served twice"
            methods[name] = method
    return methods


async def _record(
    rpcapi: RPCAPI, endpoints: dict[str, Callable[..., Any]], tmp_path: Path
) -> list[Sent]:
    def returns(method: str) -> Any:
        endpoint = endpoints.get(method)
        if endpoint is None:
            return None
        return sample(typing.get_type_hints(endpoint).get("return", Any), tmp_path)

    recorder = RecordingInvoker(returns)
    rpcapi.invoker = recorder  # type: ignore[assignment]
    for name, method in inspect.getmembers(rpcapi, inspect.iscoroutinefunction):
        if name.startswith("_"):
            continue
        recorder.current = name
        hints = typing.get_type_hints(method)
        kwargs = {}
        params = list(inspect.signature(method).parameters.values())[1:]  # after ctx
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            kwargs = _pass_through_arguments(name, endpoints, tmp_path)  # e.g. servers_create
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                kwargs[p.name] = sample(hints.get(p.name, Any), tmp_path)
        # A sample answer may not satisfy what the method does next: the sends count.
        with contextlib.suppress(Exception):
            await method(CTX, **kwargs)
    return recorder.sent


def _pass_through_arguments(
    name: str, endpoints: dict[str, Callable[..., Any]], tmp_path: Path
) -> dict[str, Any]:
    """For an rpcapi method taking ``**kwargs``: every parameter of the same-named endpoint."""
    endpoint = endpoints.get(name)
    if endpoint is None:
        return {}
    hints = typing.get_type_hints(endpoint)
    return {
        param: sample(hints.get(param, Any), tmp_path)
        for param in signature_of(endpoint).parameters
    }


def _problems(
    service: str, endpoints: dict[str, Callable[..., Any]], sent: list[Sent]
) -> list[str]:
    problems = []
    serializer = objects.serializer()
    dispatcher = Dispatcher([])
    for request in sent:
        where = f"{service}: rpcapi.{request.rpcapi_method} sends {request.method!r}"
        endpoint = endpoints.get(request.method)
        if endpoint is None:
            problems.append(f"{where}, which is not an endpoint")
            continue
        signature = signature_of(endpoint)
        unknown = set(request.kwargs).difference(signature.parameters)
        if unknown and not signature.any_kw:
            problems.append(f"{where} with argument(s) {sorted(unknown)} it does not take")
        required = {p.name for p in signature.parameters.values() if p.required}
        missing = required.difference(request.kwargs)
        if missing:
            problems.append(f"{where} without required argument(s) {sorted(missing)}")
        if unknown or missing:
            continue
        wire = {
            k: serializer.deserialize_entity(CTX, serializer.serialize_entity(CTX, v))
            for k, v in request.kwargs.items()
        }
        try:
            dispatcher.structure_arguments(endpoint, wire)
        except InvalidRpcArguments as exc:
            problems.append(f"{where}: {exc}")
    sent_names = {request.method for request in sent}
    for name in sorted(set(endpoints).difference(sent_names, NOT_SENT)):
        problems.append(f"{service}: endpoint {name!r} is sent by no rpcapi method")
    return problems


@pytest.mark.parametrize("service", list(SERVICES))
async def test_rpcapi_and_endpoints_agree(service: str, tmp_path: Path) -> None:
    """What the rpcapi sends is what the endpoints take, and every endpoint is sent."""
    config = Config.load(environ={}, state_path=str(tmp_path))
    transport = MemoryTransport()
    manager = SERVICES[service](config, transport, "host1")
    endpoints = _endpoints(manager)
    assert endpoints, f"{service} has no endpoints"
    Dispatcher(manager.endpoints())  # every annotation resolves to a form it can check
    rpcapi = _rpcapi_class(service, manager.topic)(transport, config)
    sent = await _record(rpcapi, endpoints, tmp_path)
    assert sent, f"{service}'s rpcapi sent nothing"
    problems = _problems(service, endpoints, sent)
    assert not problems, "\n".join(problems)


def test_the_recorder_catches_a_mismatch(tmp_path: Path) -> None:
    """The checks above can fail: a wrong name, a missing and a mistyped argument are caught."""

    class Endpoint:
        async def method(self, ctx: RequestContext, a: int, b: str = "") -> None: ...

    endpoint = Endpoint().method
    sent = [
        Sent("r1", "nope", {}, cast=False),
        Sent("r2", "method", {"b": "x"}, cast=False),
        Sent("r3", "method", {"a": "1"}, cast=False),
        Sent("r4", "method", {"a": 1, "c": 2}, cast=False),
    ]
    problems = _problems("svc", {"method": endpoint, "unsent": endpoint}, sent)
    assert [p.split(":")[1].split()[0] for p in problems] == [
        "rpcapi.r1",
        "rpcapi.r2",
        "rpcapi.r3",
        "rpcapi.r4",
        "endpoint",
    ]
    assert builtins.len(problems) == 5
