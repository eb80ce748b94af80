"""The typed RPC boundary: each request's arguments are checked against the endpoint's
annotations before the method runs, strictly, and a misfit is `InvalidRpcArguments`.

The unit tests drive `Dispatcher.structure_arguments` with one test endpoint per
type form the services' managers use (str, int, bool, float, X | None, lists,
dicts, attrs objects and lists of them, Literal, Any); the end-to-end tests show the
error crossing the bus as itself, on both brokers, and a bad `servers.create`
refused as `Invalid` naming the argument instead of crashing the conductor.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any, Literal

import pytest

from nova_lite import Invoker, RequestContext, Target, Worker, objects
from nova_lite.exceptions import Invalid, InvalidRpcArguments
from nova_lite.rpc import endpoint
from nova_lite.rpc.dispatcher import Dispatcher
from nova_lite.structuring import ArgumentMismatch, strict_hook
from nova_lite.testing import CloudFactory, TransportFactory

CTX = RequestContext(user_id="u1", project_id="p1")
FLAVOR = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
SELECTION = objects.Selection(
    host="h1", nodename="h1", instance_uuid="i1", vcpus=1, memory_mb=512, disk_gb=1
)


class Forms:
    """One endpoint method per annotation form found in the managers' signatures."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    @endpoint
    async def scalars(self, ctx: RequestContext, s: str, i: int, b: bool, f: float) -> None:
        self.ran.append("scalars")

    @endpoint
    async def optionals(
        self, ctx: RequestContext, name: str | None = None, count: int | None = None
    ) -> None:
        self.ran.append("optionals")

    @endpoint
    async def lists(
        self,
        ctx: RequestContext,
        ids: list[str],
        maybe: list[str] | None = None,
        states: list[str | None] | None = None,
    ) -> None:
        self.ran.append("lists")

    @endpoint
    async def dicts(
        self,
        ctx: RequestContext,
        values: dict[str, Any],
        props: dict[str, str] | None = None,
        changes: dict[str, str | None] | None = None,
    ) -> None:
        self.ran.append("dicts")

    @endpoint
    async def objects_(
        self, ctx: RequestContext, flavor: objects.Flavor, alternates: list[objects.Selection]
    ) -> None:
        self.ran.append("objects_")

    @endpoint
    async def literal(self, ctx: RequestContext, kind: Literal["soft", "hard"]) -> None:
        self.ran.append("literal")

    @endpoint
    async def anything(self, ctx: RequestContext, value: Any, names: tuple[str, ...]) -> None:
        self.ran.append("anything")

    @endpoint
    async def open_ended(self, ctx: RequestContext, a: int, **extra: Any) -> None:
        self.ran.append("open_ended")


DISPATCHER = Dispatcher([Forms()])
METHODS = DISPATCHER._methods[0]

ACCEPTED = [
    ("scalars", {"s": "x", "i": 5, "b": True, "f": 1.5}),
    ("scalars", {"s": "", "i": -1, "b": False, "f": 2}),  # an int is a float
    ("optionals", {}),
    ("optionals", {"name": None, "count": None}),
    ("optionals", {"name": "n", "count": 0}),
    ("lists", {"ids": []}),
    ("lists", {"ids": ["a", "b"], "maybe": None, "states": ["active", None]}),
    ("dicts", {"values": {"a": [1, {"b": None}]}, "props": {"k": "v"}, "changes": {"k": None}}),
    ("objects_", {"flavor": FLAVOR, "alternates": [SELECTION, SELECTION]}),
    ("objects_", {"flavor": FLAVOR, "alternates": []}),
    ("literal", {"kind": "hard"}),
    ("anything", {"value": {"any": ["thing", 1, None]}, "names": ["a"]}),
    ("open_ended", {"a": 1, "whatever": object()}),
]


@pytest.mark.parametrize(("method", "args"), ACCEPTED)
def test_well_typed_arguments_pass(method: str, args: dict[str, Any]) -> None:
    """Arguments that fit their annotations pass, equal in value (a tuple for a tuple)."""
    structured = DISPATCHER.structure_arguments(METHODS[method], args)
    assert structured.keys() == args.keys()
    for key, value in args.items():
        assert structured[key] in (value, tuple(value) if isinstance(value, list) else value)


def test_structuring_converts_containers_and_widens_ints() -> None:
    """A JSON array for a tuple becomes a tuple; an int for a float becomes a float."""
    assert DISPATCHER.structure_arguments(METHODS["anything"], {"value": 1, "names": ["a"]})[
        "names"
    ] == ("a",)
    scalars = {"s": "x", "i": 1, "b": True, "f": 2}
    assert type(DISPATCHER.structure_arguments(METHODS["scalars"], scalars)["f"]) is float


REFUSED = [
    ("scalars", {"s": 5, "i": 5, "b": True, "f": 1.0}, "s", "must be a string, not 5"),
    ("scalars", {"s": "x", "i": "5", "b": True, "f": 1.0}, "i", "an integer, not '5'"),
    ("scalars", {"s": "x", "i": 1.9, "b": True, "f": 1.0}, "i", "an integer, not 1.9"),
    ("scalars", {"s": "x", "i": True, "b": True, "f": 1.0}, "i", "an integer, not True"),
    ("scalars", {"s": "x", "i": 1, "b": 1, "f": 1.0}, "b", "true or false, not 1"),
    ("scalars", {"s": "x", "i": 1, "b": True, "f": False}, "f", "a number, not False"),
    ("scalars", {"s": "x", "i": 1, "b": True, "f": "1.0"}, "f", "a number, not '1.0'"),
    ("scalars", {"s": None, "i": 1, "b": True, "f": 1.0}, "s", "a string, not None"),
    ("optionals", {"count": "3"}, "count", "an integer or null, not '3'"),
    ("lists", {"ids": "abc"}, "ids", "a list of strings, not 'abc'"),
    ("lists", {"ids": ["a", 2]}, "ids[1]", "ids[1] must be a string, not 2"),
    ("lists", {"ids": {"a": 1}}, "ids", "a list of strings"),
    ("lists", {"ids": [], "states": ["x", 3]}, "states[1]", "a string or null, not 3"),
    ("dicts", {"values": []}, "values", "an object, not []"),
    ("dicts", {"values": {}, "props": {"k": 3}}, "props['k']", "a string, not 3"),
    ("dicts", {"values": {}, "changes": {"k": 3}}, "changes['k']", "a string or null"),
    ("objects_", {"flavor": {"name": "m1"}, "alternates": []}, "flavor", "a Flavor object"),
    ("objects_", {"flavor": SELECTION, "alternates": []}, "flavor", "a Flavor object"),
    ("objects_", {"flavor": FLAVOR, "alternates": [FLAVOR]}, "alternates[0]", "Selection"),
    ("objects_", {"flavor": FLAVOR, "alternates": SELECTION}, "alternates", "a list of"),
    ("literal", {"kind": "medium"}, "kind", "one of 'soft', 'hard', not 'medium'"),
    ("anything", {"value": 1, "names": "ab"}, "names", "a list of strings, not 'ab'"),
    ("open_ended", {"a": "1"}, "a", "an integer, not '1'"),
]


@pytest.mark.parametrize(("method", "args", "argument", "message"), REFUSED)
def test_misfits_are_refused_naming_method_argument_and_type(
    method: str, args: dict[str, Any], argument: str, message: str
) -> None:
    """No silent coercion: each misfit is InvalidRpcArguments saying where and what."""
    with pytest.raises(InvalidRpcArguments) as caught:
        DISPATCHER.structure_arguments(METHODS[method], args)
    error = caught.value
    assert message in str(error) and repr(method) in str(error)
    assert error.kwargs["method"] == method and error.kwargs["argument"] == argument
    assert error.kwargs["expected"] and error.kwargs["got"]


@pytest.mark.parametrize(
    ("tp", "value"), [(bytes, 5), (bytes, "x"), (Path, "/etc"), (set[int], "ab"), (int, None)]
)
def test_types_cattrs_would_build_by_calling_them_are_refused(tp: Any, value: Any) -> None:
    """No class is called on a wrong value to make one (cattrs' default would: bytes(5))."""
    hook = strict_hook(tp)
    with pytest.raises(ArgumentMismatch):
        hook(value, tp)


def test_missing_and_unexpected_arguments_are_refused() -> None:
    """A required argument left out, or one the method does not take, is refused."""
    with pytest.raises(InvalidRpcArguments, match="Missing required argument") as missing:
        DISPATCHER.structure_arguments(METHODS["lists"], {})
    assert missing.value.kwargs["argument"] == "ids"
    assert "ids: list[str]" in missing.value.kwargs["expected"]
    with pytest.raises(InvalidRpcArguments, match="Unexpected argument") as unexpected:
        DISPATCHER.structure_arguments(METHODS["optionals"], {"nope": 1})
    assert unexpected.value.kwargs["argument"] == "nope"
    with pytest.raises(InvalidRpcArguments, match="Missing required argument") as extra:
        DISPATCHER.structure_arguments(METHODS["open_ended"], {"extra": 1})  # no `a`
    assert extra.value.kwargs["argument"] == "a"


def test_invalid_rpc_arguments_is_an_invalid_request() -> None:
    """InvalidRpcArguments is the project's Invalid (a 400), and still a TypeError."""
    assert issubclass(InvalidRpcArguments, Invalid) and issubclass(InvalidRpcArguments, TypeError)
    assert InvalidRpcArguments.code == 400


def test_an_unresolvable_annotation_is_refused_when_the_worker_is_built() -> None:
    """An endpoint whose annotations cannot be resolved fails loudly, not at call time."""

    class Broken:
        @endpoint
        async def method(self, ctx: RequestContext, x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
            """Annotated with a name that does not exist."""

    with pytest.raises(TypeError, match="Cannot resolve the annotations of endpoint"):
        Dispatcher([Broken()])


def test_objects_do_not_depend_on_the_rpc_layer() -> None:
    """nova_lite/objects.py imports nothing from nova_lite.rpc (its converter is below both)."""
    source = Path(__file__).resolve().parent.parent / "nova_lite" / "objects.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not any(name.startswith("nova_lite.rpc") for name in imported), imported
    assert "nova_lite.converter" in imported


async def test_the_error_crosses_the_bus_as_itself(broker: TransportFactory) -> None:
    """A misfit arrives on the caller as InvalidRpcArguments with its details; nothing ran."""
    transport = await broker.connect()
    target = Target(topic=broker.name("typed"), exchange=broker.name("nova"), server="h1")
    forms = Forms()
    serializer = objects.serializer()
    async with Worker(transport, target, [forms], serializer=serializer):
        invoker = Invoker(transport, target, timeout=10, serializer=serializer)
        with pytest.raises(InvalidRpcArguments) as caught:
            await invoker.call(CTX, "objects_", flavor=FLAVOR, alternates=[FLAVOR])
        assert caught.value.kwargs == {
            "method": "objects_",
            "argument": "alternates[0]",
            "expected": "Selection",
            "got": repr(FLAVOR)[:57] + "...",
        }
        await invoker.call(CTX, "objects_", flavor=FLAVOR, alternates=[SELECTION])
    assert forms.ran == ["objects_"]


async def test_a_bad_server_create_is_invalid_naming_the_argument(clouds: CloudFactory) -> None:
    """servers.create(flavor=[]) is refused as Invalid naming the argument, not a crash."""
    cloud = await clouds.start(computes=1)
    session = await cloud.login_admin()
    with pytest.raises(Invalid, match=r"flavor_ref must be a string, not \[\]"):
        await session.servers.create("bad", flavor=[], image="cirros")  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="image_id must be a string, not 5"):
        await session.servers.create("bad", flavor="m1.tiny", image=5)  # type: ignore[arg-type]
    assert await asyncio.wait_for(session.servers.list(), 10) == []
