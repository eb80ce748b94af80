"""What a run reports: the per-module table, and the files it leaves to diff runs by.

The table has a row per Tempest module (``compute.servers.test_servers``) with its
passed, failed, skipped and not-run (set-up failed, or the run ended first)
counts, totals, and the pass percentage of what ran (passed / (passed + failed)),
as issue 15 measured it. The output directory gets, sorted so that two runs
diff line by line:

- ``summary.md``: the table (and, for ``--groups interop``, the capabilities), the
  worklist of causes (all together, then service by service), the skip reasons;
- ``tests.tsv``: every selected test with its outcome;
- ``failures.txt``: every failed or not-run test with the first line of its failure;
- ``results.json``: all of it, with each failure's cause, for tools;
- ``tempest.conf``, ``selected.txt`` and the raw ``subunit.stream``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from conformance.causes import Routes, WorkItem, cause_of, skip_reasons, worklist
from conformance.interop import InteropTest, Verdict, capability_verdicts
from conformance.outcomes import OUTCOMES, Outcome

__all__ = ["Row", "Totals", "rows", "table_markdown", "table_text", "write"]


@attrs.frozen
class Row:
    """One module's counts."""

    module: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0

    @property
    def pass_rate(self) -> float | None:
        """Passed over what ran (passed + failed), or None if nothing ran."""
        ran = self.passed + self.failed
        return self.passed / ran if ran else None

    @property
    def total(self) -> int:
        """Every selected test of the module."""
        return self.passed + self.failed + self.skipped + self.not_run


Totals = Row


def rows(outcomes: Iterable[Outcome]) -> tuple[list[Row], Row]:
    """The per-module rows (sorted by module) and the totals row."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        module = counts.setdefault(outcome.module, dict.fromkeys(OUTCOMES, 0))
        module[outcome.outcome] += 1
    table = [_row(name, c) for name, c in sorted(counts.items())]
    total = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
    return table, _row("total", total)


def _row(name: str, counts: dict[str, int]) -> Row:
    return Row(name, counts["passed"], counts["failed"], counts["skipped"], counts["not run"])


def _rate(row: Row) -> str:
    rate = row.pass_rate
    return "-" if rate is None else f"{100 * rate:.0f}%"


SERVICES = ("compute", "image", "network", "volume", "identity")  # tempest.api's, by module

HEADERS = ("module", "passed", "failed", "skipped", "not run", "pass % of run")


def _cells(row: Row) -> list[str]:
    return [
        row.module,
        str(row.passed),
        str(row.failed),
        str(row.skipped),
        str(row.not_run),
        _rate(row),
    ]


def table_text(table: Sequence[Row], total: Row) -> str:
    """The table for a terminal, columns aligned."""
    lines = [list(HEADERS), *(_cells(r) for r in table), _cells(total)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    out = []
    for index, line in enumerate(lines):
        if index == len(lines) - 1:
            out.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
        cells = [
            line[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)),
        ]
        out.append("  ".join(cells))
    return "\n".join(out)


def table_markdown(table: Sequence[Row], total: Row, first: str = "module") -> str:
    """The table in markdown (its first column headed `first`), the totals row in bold."""
    headers = (first, *HEADERS[1:])
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in table]
    lines.append("| " + " | ".join(f"**{c}**" for c in _cells(total)) + " |")
    return "\n".join(lines)


def group_rows(outcomes: Sequence[Outcome], patterns: Sequence[tuple[str, str]]) -> list[Row]:
    """One row per group (label, include regex): the totals of the tests it selects.

    Groups may overlap (``volume.test_volumes_get`` is inside ``volume.test_volumes*``).
    """
    found = []
    for label, regex in patterns:
        pattern = re.compile(regex)
        members = [o for o in outcomes if pattern.search(o.name)]
        found.append(attrs.evolve(rows(members)[1], module=label))
    return found


def totals_line(total: Row) -> str:
    """One line: the totals and the pass percentage of what ran."""
    return (
        f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped, "
        f"{total.not_run} not run ({_rate(total)} of what ran passed)"
    )


def worklist_markdown(items: Sequence[WorkItem], per_cause: int = 12) -> str:
    """The worklist: each cause with its test count and its most costly keys."""
    lines = ["| cause | tests | what (tests) |", "|---|---:|---|"]
    for item in items:
        keys = [f"`{key}` ({count})" for key, count in item.keys[:per_cause]]
        more = len(item.keys) - per_cause
        if more > 0:
            keys.append(f"... {more} more")
        lines.append(
            f"| {item.cause} | {item.tests} | " + "<br>".join(keys).replace("|", "\\|") + " |"
        )
    return "\n".join(lines)


def verdicts_markdown(verdicts: Sequence[Verdict]) -> str:
    """The interop capabilities with their verdicts."""
    lines = ["| capability | verdict | unflagged tests | flagged |", "|---|---|---|---:|"]
    for v in verdicts:
        counts = ", ".join(f"{n} {o}" for o, n in sorted(v.counts.items()))
        lines.append(f"| {v.capability} | {v.verdict} | {counts or '-'} | {v.flagged} |")
    passed = sum(v.verdict == "pass" for v in verdicts)
    lines.append(f"\n{passed} of {len(verdicts)} capabilities pass.")
    return "\n".join(lines)


def write(
    out: Path,
    outcomes: Sequence[Outcome],
    routes: Routes,
    *,
    title: str,
    interop_tests: Sequence[InteropTest] | None = None,
    group_patterns: Sequence[tuple[str, str]] = (),
) -> str:
    """Write every report file into `out`; the summary's markdown."""
    out.mkdir(parents=True, exist_ok=True)
    table, total = rows(outcomes)
    items = worklist(outcomes, routes)
    parts = [f"# {title}", "", totals_line(total), "", table_markdown(table, total)]
    if group_patterns:
        per_group = group_rows(outcomes, group_patterns)
        per_group_table = table_markdown(per_group[:-1], per_group[-1], first="group")
        parts += ["", "## Per group", "", per_group_table]
    if interop_tests is not None:
        verdicts = capability_verdicts(interop_tests, {o.name: o.outcome for o in outcomes})
        parts += ["", "## Interop capabilities", "", verdicts_markdown(verdicts)]
    parts += ["", "## Causes of failures and not-run tests", "", worklist_markdown(items)]
    for service in SERVICES:
        members = [o for o in outcomes if o.module.split(".", 1)[0] == service]
        service_items = worklist(members, routes)
        if service_items:
            parts += ["", f"### {service}", "", worklist_markdown(service_items, per_cause=20)]
    skips = skip_reasons(outcomes)
    if skips:
        parts += ["", "## Skip reasons", "", "| reason | tests |", "|---|---:|"]
        parts += [f"| {reason.replace('|', '/')} | {n} |" for reason, n in skips]
    summary = "\n".join(parts) + "\n"
    (out / "summary.md").write_text(summary, encoding="utf-8")
    ordered = sorted(outcomes, key=lambda o: o.name)
    tsv = "".join(f"{o.name}\t{o.outcome}\n" for o in ordered)
    (out / "tests.tsv").write_text(tsv, encoding="utf-8")
    failing = [o for o in ordered if o.outcome in ("failed", "not run")]
    failures = "".join(f"{o.name} [{o.outcome}]: {o.reason}\n" for o in failing)
    (out / "failures.txt").write_text(failures, encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(_json(ordered, routes), indent=1), encoding="utf-8"
    )
    return summary


def _json(outcomes: Sequence[Outcome], routes: Routes) -> list[dict[str, Any]]:
    results = []
    for o in outcomes:
        entry: dict[str, Any] = {"test": o.name, "module": o.module, "outcome": o.outcome}
        if o.reason:
            entry["reason"] = o.reason
        if o.outcome in ("failed", "not run"):
            cause = cause_of(o, routes)
            entry["cause"], entry["cause_key"] = cause.cause, cause.key
        results.append(entry)
    return results
