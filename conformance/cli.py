"""``python -m conformance``: run Tempest against a fresh nova_lite cloud and report.

``scripts/tempest`` makes the virtual environments and the broker ready, then runs
this. One run: a work directory in /tmp; a Tempest workspace there; ``nova-lite
all`` started; accounts provisioned; what the cloud serves discovered;
``tempest.conf`` written; the selected tests listed and run; the cloud stopped (or
kept, with ``--keep``); the report printed and written to the output directory.
Exit status: 0 when the run finished, 1 when a test of ``--expect-pass`` did not
pass, 2 when it could not start, 3 when the run hit its timeout.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from conformance import groups, interop
from conformance.causes import Routes
from conformance.cloud import delete_queues, kept_settings
from conformance.outcomes import Outcome, classify
from conformance.report import rows, table_text, totals_line, write
from conformance.run import Run
from conformance.workspace import TempestError, Workspace

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
AMQP_URL = os.environ.get("NOVA_LITE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TITLES = {
    "issue": "Tempest: issue 15's groups",
    "interop": "Tempest: the interop guideline 2020.06's required tests",
    "all": "Tempest: all of tempest.api but object storage",
    "ci": "Tempest: the CI subset",
}


@click.command()
@click.option(
    "--groups", "group_set", type=click.Choice(groups.GROUP_SETS), help="A named group set."
)
@click.option("--regex", help="Tempest tests whose id matches this (instead of --groups).")
@click.option(
    "--accounts",
    "account_mode",
    type=click.Choice(["pre-provisioned", "dynamic"]),
    default="pre-provisioned",
    show_default=True,
    help="Accounts created here, or by Tempest per class (needs Keystone admin CRUD).",
)
@click.option("--keep", is_flag=True, help="Leave the cloud and the work directory for debugging.")
@click.option(
    "--timeout", type=float, default=5400.0, show_default=True, help="Seconds for the run."
)
@click.option("--concurrency", type=int, default=2, show_default=True, help="Tempest workers.")
@click.option("--output", type=click.Path(path_type=Path), help="Report directory (default below).")
@click.option(
    "--expect-pass",
    type=click.Path(exists=True, path_type=Path),
    help="Fail unless each listed test passes.",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="List the selected tests (their tags as under Tempest's default configuration) and stop.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Report again on an earlier run's directory (its selected.txt and subunit.stream).",
)
@click.option(
    "--delete-queues",
    "kept_work",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Delete the queues of a cloud kept with --keep (its work directory), once stopped.",
)
@click.option("--quiet", is_flag=True, help="No line per test while it runs.")
@click.option("--tempest-venv", type=click.Path(path_type=Path), default=REPO / ".venv-tempest")
@click.option("--amqp-url", default=AMQP_URL, show_default=True)
def main(
    group_set: str | None,
    regex: str | None,
    account_mode: str,
    keep: bool,
    timeout: float,
    concurrency: int,
    output: Path | None,
    expect_pass: Path | None,
    list_only: bool,
    report_dir: Path | None,
    kept_work: Path | None,
    quiet: bool,
    tempest_venv: Path,
    amqp_url: str,
) -> None:
    """Run Tempest's API tests against a fresh ``nova-lite all`` and report per module."""
    if kept_work is not None:
        delete_queues(kept_settings(kept_work.absolute()))
        shutil.rmtree(kept_work, ignore_errors=True)
        return
    if report_dir is not None:
        _report_again(report_dir.absolute(), group_set, tempest_venv.absolute())
        return
    if (group_set is None) == (regex is None):
        raise click.UsageError("Give exactly one of --groups and --regex.")
    include = groups.include_list(group_set) if group_set else [regex or ""]
    label = group_set or "regex"
    work = Path(tempfile.mkdtemp(prefix=f"nova-lite-tempest-{label}-"))
    workspace = Workspace(tempest_venv.absolute(), work / "workspace")
    try:
        workspace.init()
        if list_only:
            click.echo("\n".join(workspace.list_tests(include)))
            shutil.rmtree(work, ignore_errors=True)
            return
    except TempestError as exc:
        _fail(str(exc), work)
    out = (output or _default_output(label)).absolute()
    click.echo(f"work directory {work}; report in {out}")
    run = Run(work, workspace, out, account_mode, amqp_url)
    status, tests = run.execute(
        include, concurrency=concurrency, timeout=timeout, echo=not quiet, keep=keep
    )
    if status == 2:
        sys.exit(status)
    title = TITLES.get(label, f"Tempest: {regex}")
    run.save_labels(title, group_set or "")
    outcomes = report_run(out, tests, run.records, title, group_set or "")
    if expect_pass is not None and not expected_passed(expect_pass, outcomes):
        sys.exit(1)
    sys.exit(status)


def _default_output(label: str) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return REPO / "conformance-results" / f"{label}-{stamp}"


def _fail(message: str, work: Path) -> NoReturn:
    click.echo(f"scripts/tempest: {message}", err=True)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(2)


def report_run(
    out: Path, tests: list[str], records: list[dict[str, object]], title: str, group_set: str
) -> list[Outcome]:
    """Classify, write the report files into `out`, print the table; the outcomes."""
    outcomes = classify(tests, records)
    interop_tests = interop.load() if group_set == "interop" else None
    patterns = groups.group_patterns(group_set)
    write(
        out, outcomes, Routes(), title=title, interop_tests=interop_tests, group_patterns=patterns
    )
    table, total = rows(outcomes)
    click.echo("\n" + table_text(table, total) + "\n\n" + totals_line(total))
    click.echo(f"report: {out / 'summary.md'} (failures.txt, tests.tsv, results.json)")
    return outcomes


def _report_again(out: Path, group_set: str | None, tempest_venv: Path) -> None:
    """Rebuild the report of the run in `out` from its selected list and subunit stream."""
    saved = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    group_set = group_set or saved.get("groups", "")
    tests = groups.read_test_list(out / "selected.txt")
    with tempfile.TemporaryDirectory() as scratch:
        records_path, log = Path(scratch) / "records.json", Path(scratch) / "tempest.log"
        if (out / "logs" / "tempest.log.gz").exists():
            with gzip.open(out / "logs" / "tempest.log.gz") as src, log.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        Workspace(tempest_venv, Path(scratch)).to_json(out / "subunit.stream", records_path, log)
        records = json.loads(records_path.read_text())
    title = saved.get("title") or TITLES.get(group_set or "", "Tempest")
    report_run(out, tests, records, title, group_set or "")


def expected_passed(path: Path, outcomes: Sequence[Outcome]) -> bool:
    """Whether every test listed in `path` passed; each that did not is printed."""
    by_name = {o.name: o for o in outcomes}
    expected = groups.read_test_list(path)
    missing = [
        name for name in expected if by_name.get(name) is None or by_name[name].outcome != "passed"
    ]
    for name in missing:
        outcome = by_name.get(name)
        state = (
            f"{outcome.outcome}: {outcome.reason}"
            if outcome
            else "not selected (not in this Tempest?)"
        )
        click.echo(f"REGRESSION {name} {state}", err=True)
    click.echo(f"{len(expected) - len(missing)} of {len(expected)} expected-pass tests passed")
    return not missing
