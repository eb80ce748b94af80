"""The compute and conductor managers are composed of parts: what each part may hold and serve.

The managers' RPC endpoints live on their parts (`Manager.endpoints()`); these tests
pin what makes that safe: every part answers at the manager's target, no method is
served by two parts (the dispatcher would silently pick the first), and no part holds
the manager itself (each gets its collaborators in its constructor instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nova_lite.compute.manager import ComputeManager
from nova_lite.conductor.manager import ConductorManager
from nova_lite.config import Config
from nova_lite.loader import get_transport
from nova_lite.rpc.endpoint import rpc_methods
from nova_lite.service import Manager

_PACKAGES = ("nova_lite.compute.", "nova_lite.conductor.")


@pytest.fixture(params=["compute", "conductor"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Manager:
    """A compute or conductor manager, built (never started) over an unconnected transport."""
    config = Config.load(environ={}, state_path=str(tmp_path))
    transport = get_transport("memory://")
    if request.param == "compute":
        return ComputeManager(config, transport, "host1")
    return ConductorManager(config, transport, "control1")


def _parts(obj: object, seen: set[int]) -> Iterator[object]:
    """Every object of the compute or conductor packages reachable from `obj`'s attributes."""
    for value in vars(obj).values():
        if id(value) in seen or not type(value).__module__.startswith(_PACKAGES):
            continue
        seen.add(id(value))
        yield value
        yield from _parts(value, seen)


def test_every_endpoint_part_answers_at_the_managers_target(manager: Manager) -> None:
    """Each object the service serves carries the manager's own RPC target."""
    endpoints = manager.endpoints()
    assert endpoints
    assert all(getattr(part, "target", None) == manager.target for part in endpoints)


def test_no_endpoint_is_served_by_two_parts(manager: Manager) -> None:
    """Endpoint names are unique across the parts, so none shadows another."""
    names = [name for part in manager.endpoints() for name in rpc_methods(part)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_endpoint_part_is_a_collaborator_of_the_manager(manager: Manager) -> None:
    """The served parts are the manager's own attributes, not copies built for the bus."""
    owned = {id(value) for value in vars(manager).values()}
    assert all(id(part) in owned for part in manager.endpoints())


def test_no_part_holds_a_manager(manager: Manager) -> None:
    """No collaborator, however deep, keeps a back-reference to the manager."""
    parts = list(_parts(manager, set()))
    assert len(parts) >= 4
    for part in parts:
        held = [name for name, value in vars(part).items() if isinstance(value, Manager)]
        assert held == [], f"{part!r} holds a manager in {held}"


def test_migration_create_is_not_on_the_bus(tmp_path: Path) -> None:
    """Creating a migration is the resize task's local step: no peer may call it."""
    config = Config.load(environ={}, state_path=str(tmp_path))
    conductor = ConductorManager(config, get_transport("memory://"), "control1")
    served = {name for part in conductor.endpoints() for name in rpc_methods(part)}
    assert "migrate_server" in served
    assert "migration_create" not in served
