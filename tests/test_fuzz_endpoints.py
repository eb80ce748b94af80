"""Hypothesis against every endpoint of every service, over the bus.

A whole cloud (every service, plus the api service) runs on the in-memory broker on
an event loop in a thread. For each `@endpoint` method of each manager (found
through ``manager.endpoints()``), hypothesis sends calls with arbitrary JSON
arguments, and with well-typed nonsense (values that fit the annotations but name
nothing that exists), as an admin. Whatever comes back must be a result or an
exception the RPC layer rebuilds from `nova_lite.exceptions` with a message: never a
`RemoteError` (an internal error escaping an endpoint), never a timeout.

Endpoints where a failure was found in code this suite does not own are marked
``xfail(strict=True)`` in `KNOWN_FAILURES` with the reason: the mark turns red once
they are fixed, and must then go.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import threading
import types
import typing
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nova_lite import Invoker, Target, exceptions, objects
from nova_lite.api.manager import ApiManager
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import MessagingTimeout, NovaLiteError, RemoteError
from nova_lite.launcher import SERVICES
from nova_lite.rpc.dispatcher import signature_of
from nova_lite.rpc.endpoint import rpc_methods
from nova_lite.service import Manager, Service
from transports.memory import MemoryTransport

T = TypeVar("T")
CALL_TIMEOUT = 10.0
# Deterministic in CI, exploring locally: the profiles in tests/conftest.py.
# NOVA_LITE_TEST_FUZZ_ENDPOINT_EXAMPLES raises the number of examples for a longer hunt.
SETTINGS = settings(
    max_examples=int(os.environ.get("NOVA_LITE_TEST_FUZZ_ENDPOINT_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@attrs.frozen
class KnownFailure:
    """A failure found here in code this suite does not own, and an example that shows it."""

    reason: str
    example: Callable[[], dict[str, Any]]


#: (service, endpoint) -> the failure found; each runs its example first, and is
#: xfail(strict=True): once fixed, the test passes and the strict mark turns it red.
KNOWN_FAILURES: dict[tuple[str, str], KnownFailure] = {}

# Inputs that once failed here (now fixed), kept and tried first on every run whatever
# Hypothesis draws, so that a fixed failure stays fixed: each with the refusal it must
# now get (a class in nova_lite.exceptions, or one of its subclasses).
FOUND_EXAMPLES: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {
    # 96f3b5b: unknown resources and negative amounts were checked as if they were quotas.
    ("conductor", "quota_check"): [
        ({"project_id": "p", "user_id": None, "wanted": {"no-such-resource": 1}}, "Invalid"),
        ({"project_id": "p", "user_id": "u", "wanted": {"instances": -1}}, "Invalid"),
        ({"project_id": "p", "user_id": None, "wanted": {"cores": True}}, "Invalid"),
    ],
}


def _endpoint_table() -> list[tuple[str, str]]:
    """(service, method) for every endpoint, read from managers that are never started."""
    config = Config.load(environ={}, state_path="/nonexistent-never-opened")
    table: list[tuple[str, str]] = []
    for service, cls in SERVICES.items():
        manager = cls(config, MemoryTransport(), "host1")
        for part in manager.endpoints():
            table.extend((service, name) for name in sorted(rpc_methods(part)))
    return table


@attrs.frozen
class Fuzzed:
    """The running cloud, a way to run coroutines on its loop, and an admin context."""

    run: Callable[[Coroutine[Any, Any, Any]], Any]
    managers: dict[str, Manager]
    invokers: dict[str, Invoker]
    ctx: RequestContext
    admin: Any  # the admin's Session
    own: dict[str, str]  # the tests' own image and network, whose ids fuzzing never gets
    known_ids: tuple[str, ...]  # ids and names that exist, for well-typed nonsense


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A cloud with the api service, on the in-memory broker, on its own loop thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    config = Config.load(
        environ={},
        state_path=str(tmp_path_factory.mktemp("fuzz-endpoints")),
        identity={"bootstrap_password": "fuzz-admin-pw"},
        image={"max_image_bytes": 70_000, "chunk_bytes": 1024},
        quota={"instances": 1000, "cores": 1000, "ram": 1000 * 512},
    )
    cloud = Cloud(config, computes=1)
    run(cloud.start())
    api = Service(ApiManager(config, cloud.transport, config.host), serializer=objects.serializer())
    run(api.start())
    services = [api, *cloud.services]
    managers = {_service_name(s.manager): s.manager for s in services}
    invokers = {
        name: Invoker(
            cloud.transport,
            Target(topic=manager.topic, server=manager.host, exchange=config.rpc.exchange),
            timeout=CALL_TIMEOUT,
            serializer=objects.serializer(),
        )
        for name, manager in managers.items()
    }
    admin = run(cloud.login_admin())
    ctx = run(admin.context())
    try:
        known = run(_known_ids(cloud, ctx))
        own = run(_own_resources(cloud, ctx))
        yield Fuzzed(run, managers, invokers, ctx, admin, own, known)
    finally:
        run(api.stop())
        run(cloud.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# The flavor of the servers made for the tests, with names the fuzzing cannot guess: it
# creates flavors and images, and may shadow "m1.tiny" or "cirros".
FUZZ_FLAVOR = objects.Flavor(
    flavorid=f"fuzz-{uuid.uuid4().hex}", name=f"fuzz-{uuid.uuid4().hex}", vcpus=1,
    memory_mb=512, root_gb=1,
)  # fmt: skip


async def _own_resources(cloud: Cloud, ctx: RequestContext) -> dict[str, str]:
    """An image and a network for the tests' servers, made after `_known_ids` looked."""
    image = await cloud.api.image.create_from_bytes(
        ctx, f"fuzz-{uuid.uuid4().hex}", b"x" * 1024, visibility="public"
    )
    network = await cloud.api.network.create_network(ctx, f"fuzz-{uuid.uuid4().hex}")
    await cloud.api.network.create_subnet(ctx, network.id, "10.99.0.0/24")
    return {"image": image.id, "network": network.id}


async def _known_ids(cloud: Cloud, ctx: RequestContext) -> tuple[str, ...]:
    """The ids and names of what exists, to aim nonsense at (and the test flavor made)."""
    await cloud.api.conductor.flavor_create(ctx, FUZZ_FLAVOR)
    # Not "admin": deleting the bootstrap admin would revoke the token every call uses.
    ids = {"m1.tiny", "1", "cirros", "compute1", "control1", "member", "reader"}
    ids.update(image.id for image in await cloud.api.image.list(ctx))
    for network in await cloud.api.network.list_networks(ctx):
        ids.add(network.id)
        ids.update(network.subnets)
    ids.update(port.id for port in await cloud.api.network.list_ports(ctx))
    return tuple(sorted(ids))


def _service_name(manager: Manager) -> str:
    return next(name for name, cls in SERVICES.items() if isinstance(manager, cls))


# -- strategies --------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)

short_text = st.text(max_size=30) | st.sampled_from(["", "../x", "' OR 1=1 --", "\x00", "a" * 300])
# Passwords and tokens are watched for in every log line (tests/conftest.py): give them
# values no other argument can take, so that only a real leak is reported.
secrets = st.uuids().map(lambda u: f"secret-{u.hex}")
SECRET_PARAMETERS = frozenset({"password", "token", "new_pass", "original_password", "subject"})
_not_a_number = json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int | float))
# Parameters that say how long to wait or how much to build: kept small, so that an
# example is answered within the call's timeout (servers_wait waits `timeout` seconds
# by contract) and a servers_create does not start hundreds of builds.
BOUNDED_PARAMETERS: dict[str, st.SearchStrategy[Any]] = {
    "timeout": st.floats(0, 1) | st.integers(-1, 1) | _not_a_number,
    "count": st.integers(-1, 3) | _not_a_number,
}


def typed(tp: Any, known: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Values that fit annotation `tp` (the boundary lets them through), meaning nothing.

    Strings are arbitrary text, or ids and names of things that exist (`known`), so
    that endpoints are driven with real objects in combinations nobody would send.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is str:
        return short_text | st.sampled_from(known) if known else short_text
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(2**40), 2**40) | st.sampled_from([0, -1, 2**31, 2**63 - 1])
    if tp is float:
        return st.floats(-1e6, 1e6)
    if tp is type(None):
        return st.none()
    if tp is datetime.datetime:
        return st.datetimes(timezones=st.just(datetime.UTC))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([typed(a, known) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (list, tuple, set, frozenset):
        item = args[0] if args else Any
        return st.lists(typed(item, known), max_size=3).map(origin if origin is not list else list)
    if origin is dict:
        return st.dictionaries(typed(args[0], known), typed(args[1], known), max_size=3)
    if isinstance(tp, type) and attrs.has(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: typed(hints[f.name], known) for f in attrs.fields(tp) if f.init}
        return st.fixed_dictionaries(fields).map(lambda values: tp(**values))
    return json_values


def arguments(
    method: Callable[..., Any], *, well_typed: bool, known: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for `method`: every required one, optional ones or not."""
    signature = signature_of(method)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, param in signature.parameters.items():
        values: st.SearchStrategy[Any]
        if name in SECRET_PARAMETERS:
            values = secrets
        elif name in BOUNDED_PARAMETERS:
            values = BOUNDED_PARAMETERS[name]
        else:
            values = typed(param.annotation, known) if well_typed else json_values
        (required if param.required else optional)[name] = values
    return st.fixed_dictionaries(required, optional=optional)


# -- the tests ---------------------------------------------------------------------


def _call(fuzzed: Fuzzed, service: str, method: str, kwargs: dict[str, Any]) -> None:
    """One call; a result or an allow-listed, explained refusal passes, all else fails."""
    invoker = fuzzed.invokers[service]
    try:
        fuzzed.run(invoker.call(fuzzed.ctx, method, **kwargs))
    except RemoteError as exc:
        pytest.fail(f"{service}.{method}({kwargs!r}) crashed: {exc}")
    except MessagingTimeout:
        pytest.fail(f"{service}.{method}({kwargs!r}) gave no answer in {CALL_TIMEOUT}s")
    except NovaLiteError as exc:
        assert str(exc), f"{service}.{method}: a refusal must say why"
        assert type(exc).__module__ == "nova_lite.exceptions"


def _cases() -> list[Any]:
    cases = []
    for service, method in _endpoint_table():
        known = KNOWN_FAILURES.get((service, method))
        marks = [pytest.mark.xfail(strict=True, reason=known.reason)] if known else []
        cases.append(pytest.param(service, method, marks=marks, id=f"{service}.{method}"))
    return cases


@pytest.mark.parametrize(("service", "method"), _cases())
def test_every_endpoint_answers_any_input(fuzzed: Fuzzed, service: str, method: str) -> None:
    """Arbitrary JSON and well-typed nonsense get a result or an allow-listed refusal."""
    bound = rpc_methods_of(fuzzed, service)[method]
    known = KNOWN_FAILURES.get((service, method))
    if known is not None:
        _call(fuzzed, service, method, known.example())
    for found, refusal in FOUND_EXAMPLES.get((service, method), []):
        with pytest.raises(NovaLiteError) as refused:
            fuzzed.run(fuzzed.invokers[service].call(fuzzed.ctx, method, **found))
        assert isinstance(refused.value, getattr(exceptions, refusal)), (found, refused.value)
    ids = fuzzed.known_ids
    if service in ("api", "conductor", "compute"):  # a live server of this test's own
        (server,) = fuzzed.run(
            fuzzed.admin.servers.create(
                "fuzz",
                flavor=FUZZ_FLAVOR.flavorid,
                image=fuzzed.own["image"],
                networks=[fuzzed.own["network"]],
            )
        )
        fuzzed.run(fuzzed.admin.servers.wait_for(server.id, "ACTIVE", timeout=30))
        ids = (*ids, server.id)

    @SETTINGS
    @given(kwargs=arguments(bound, well_typed=False) | arguments(bound, well_typed=True, known=ids))
    def check(kwargs: dict[str, Any]) -> None:
        _call(fuzzed, service, method, kwargs)

    check()


def rpc_methods_of(fuzzed: Fuzzed, service: str) -> dict[str, Callable[..., Any]]:
    """The running manager's endpoint methods, by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for part in fuzzed.managers[service].endpoints():
        methods.update(rpc_methods(part))
    return methods


def test_found_examples_name_real_endpoints() -> None:
    """A kept example whose endpoint was renamed would silently never run."""
    assert set(FOUND_EXAMPLES) <= set(_endpoint_table())


def test_the_table_covers_every_manager(fuzzed: Fuzzed) -> None:
    """Every running service's endpoints are in the table the tests are made from."""
    table = set(_endpoint_table())
    for service in fuzzed.managers:
        assert {(service, m) for m in rpc_methods_of(fuzzed, service)} <= table
    assert {service for service, _ in table} == set(SERVICES)
