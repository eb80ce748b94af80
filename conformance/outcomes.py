"""Each selected test's outcome, from the run's records and the list of what was selected.

A test Tempest reported has its own status: ``success`` and ``xfail`` are passed,
``fail`` and ``uxsuccess`` failed, ``skip`` skipped. A test it never reported
takes its class's fate: Tempest reports a class whose ``setUpClass`` skipped (a
switched-off feature) or failed (e.g. no account for a persona, or a resource the
class creates first) once, as ``setUpClass (module.Class)``, and runs none of its
tests; those are skipped, or not run with the set-up's failure as their reason.
A test neither it nor its class reported was not run because the run ended first
(its timeout) or its worker died. Failures of ``tearDownClass`` are kept apart:
they are listed, not counted as a test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "OUTCOMES",
    "Fixture",
    "Outcome",
    "classify",
    "first_line",
    "module_of",
    "test_name",
]

OUTCOMES = ("passed", "failed", "skipped", "not run")
STATUS = {
    "success": "passed",
    "xfail": "passed",
    "fail": "failed",
    "uxsuccess": "failed",
    "skip": "skipped",
}
FIXTURE = re.compile(r"^(setUpClass|tearDownClass) \((.+)\)$")
MAX_LINE = 300


@attrs.frozen
class Outcome:
    """One selected test: its name, outcome, one-line reason and its record (if reported)."""

    name: str
    outcome: str
    reason: str = ""
    record: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def module(self) -> str:
        """Its module under ``tempest.api`` (``compute.servers.test_servers``)."""
        return module_of(self.name)


@attrs.frozen
class Fixture:
    """A class-level fixture Tempest reported: which, for which class, how it ended."""

    kind: str  # "setUpClass" or "tearDownClass"
    test_class: str
    status: str
    reason: str
    record: Mapping[str, Any] = attrs.field(eq=False, repr=False)


def test_name(test_id: str) -> str:
    """A test's name: its id without the ``[id-...,tags]`` suffix."""
    return test_id.split("[", 1)[0]


def module_of(name: str) -> str:
    """The module of a test or class name, under ``tempest.api``."""
    parts = name.removeprefix("tempest.api.").split(".")
    keep = next((i for i, part in enumerate(parts) if part.startswith("test_")), len(parts) - 2)
    return ".".join(parts[: keep + 1])


def first_line(record: Mapping[str, Any]) -> str:
    """The first line of a failure (its exception, with Tempest's ``Details:``) or skip reason."""
    if record.get("status") == "skip":
        return _clip(str(record.get("reason", "")).strip().splitlines()[:1])
    traceback = str(record.get("traceback", ""))
    if not traceback.strip():
        return "(no traceback)" if record.get("status") != "inprogress" else "never finished"
    last = traceback.rsplit("Traceback (most recent call last):", 1)[-1]
    lines = [line for line in last.splitlines() if line.strip() and not line.startswith(" ")]
    if not lines:
        return _clip(traceback.strip().splitlines()[-1:])
    picked = lines[:2] if len(lines) > 1 and lines[1].startswith("Details:") else lines[:1]
    return _clip(picked)


def _clip(lines: list[str]) -> str:
    text = " ".join(line.strip() for line in lines)
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def fixtures(records: Iterable[Mapping[str, Any]]) -> list[Fixture]:
    """The class fixtures among the records."""
    found = []
    for record in records:
        match = FIXTURE.match(str(record["id"]))
        if match:
            fixture = Fixture(
                match.group(1), match.group(2), str(record["status"]), first_line(record), record
            )
            found.append(fixture)
    return found


def classify(selected: Iterable[str], records: Iterable[Mapping[str, Any]]) -> list[Outcome]:
    """The outcome of every selected test id, in the order given."""
    records = list(records)
    by_name = {test_name(str(r["id"])): r for r in records if not FIXTURE.match(str(r["id"]))}
    set_ups = {f.test_class: f for f in fixtures(records) if f.kind == "setUpClass"}
    outcomes = []
    for test_id in selected:
        name = test_name(test_id)
        record = by_name.get(name)
        if record is not None and record["status"] in STATUS:
            outcomes.append(Outcome(name, STATUS[record["status"]], first_line(record), record))
            continue
        if record is not None:  # inprogress: the run ended while it ran
            outcomes.append(Outcome(name, "not run", "interrupted: never finished", record))
            continue
        set_up = set_ups.get(name.rsplit(".", 1)[0])
        if set_up is not None and set_up.status == "skip":
            outcomes.append(Outcome(name, "skipped", set_up.reason, set_up.record))
        elif set_up is not None:
            reason = f"setUpClass failed: {set_up.reason}"
            outcomes.append(Outcome(name, "not run", reason, set_up.record))
        else:
            outcomes.append(Outcome(name, "not run", "never reported (run ended or worker died)"))
    return outcomes
