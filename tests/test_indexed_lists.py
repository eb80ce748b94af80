"""The lists a boot or a host asks for on every build are found by index, not scanned.

Compute lists one device's ports at every spawn and one host's instances at start and
in its periodic tasks; a scan of the whole table there costs each boot time in
proportion to the cloud (25 ms at 100,000 ports). SQLite's planner says which it does:
these tests read the plan of the very statements the services run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from nova_lite.conductor import instance_store
from nova_lite.conductor.schema import MIGRATIONS as CONDUCTOR_SCHEMA
from nova_lite.context import RequestContext
from nova_lite.network import access
from nova_lite.network.manager import NetworkManager
from nova_lite.network.schema import MIGRATIONS as NETWORK_SCHEMA


def _plan(schema: Iterable[str], sql: str, params: Sequence[Any]) -> str:
    conn = sqlite3.connect(":memory:")
    for migration in schema:
        conn.executescript(migration)
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


class _CapturingDatabase:
    """Records the statement a port list sends instead of running it."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        self.statements.append((sql, tuple(params)))
        return []

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return {"1": 1}


@pytest.mark.parametrize("limit", [None, 50])
async def test_one_devices_ports_are_found_by_the_device_index(limit: int | None) -> None:
    manager = object.__new__(NetworkManager)
    manager.db = _CapturingDatabase()  # type: ignore[assignment]
    ctx = RequestContext(user_id="u", project_id="p", roles=["admin"], is_admin=True)
    await manager.list_ports(ctx, device_id="server-1", limit=limit)
    [(sql, params)] = manager.db.statements  # type: ignore[attr-defined]
    plan = _plan(NETWORK_SCHEMA, sql, params)
    assert "SEARCH p USING INDEX ports_device" in plan, plan
    # A page is cut in a subquery (a co-routine) whose few rows are then read in turn:
    # the only scan allowed is of that page, never of the table.
    assert plan.count("SCAN p") <= plan.count("CO-ROUTINE p"), plan


@pytest.mark.parametrize(("project", "host"), [(False, True), (True, True), (True, False)])
def test_a_filtered_instance_list_is_found_by_an_index(project: bool, host: bool) -> None:
    sql = instance_store._LIST_OF[project, host]
    plan = _plan(CONDUCTOR_SCHEMA, sql, (None,) * sql.count("?"))
    assert "USING INDEX instances_by_" in plan, plan
    assert "SCAN instances" not in plan, plan


@pytest.mark.parametrize("resource", ["port", "security_group_rule", "floatingip"])
def test_a_network_quota_count_is_found_by_the_project_index(resource: str) -> None:
    """Every port allocated (each boot) counts its project's ports first: by index."""
    plan = _plan(NETWORK_SCHEMA, access._COUNTS[resource], ("p",))
    assert "USING COVERING INDEX" in plan and "_project" in plan, plan
    assert "SCAN" not in plan, plan


@pytest.mark.parametrize("project", [False, True])
@pytest.mark.parametrize("after", [False, True])
def test_a_page_of_the_newest_servers_is_read_off_an_index_in_order(
    project: bool, after: bool
) -> None:
    """GET /servers' page (conductor 1.3): the live servers, of a project or all, newest
    first after a marker, searched on an index in its order: no scan, no sort."""
    sql = instance_store._NEWEST_OF[project, True, after]
    plan = _plan(CONDUCTOR_SCHEMA, sql, (None,) * sql.count("?"))
    index = "instances_project_newest" if project else "instances_newest"
    assert f"SEARCH instances USING INDEX {index} " in plan, plan
    assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan


def test_several_devices_ports_are_found_by_the_device_index() -> None:
    """A listing's servers' ports (network 1.3 ports_of_devices): each by ports_device."""
    from nova_lite.network import manager

    sql = (
        "SELECT * FROM ports p LEFT JOIN ip_allocations a ON a.port_id = p.id "
        f"WHERE {manager._PORTS_OF_DEVICES}"
    )
    plan = _plan(NETWORK_SCHEMA, sql, (True, "p", '["d1", "d2"]'))
    assert "USING INDEX ports_device" in plan, plan
    assert "SCAN p" not in plan, plan
