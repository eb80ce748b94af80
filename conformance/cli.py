"""``python -m conformance``: run Tempest against a fresh nova_lite cloud and report.

``scripts/tempest`` makes the virtual environments and the broker ready, then runs
this. One run: a work directory in /tmp; a Tempest workspace there; the selected
tests listed; ``nova-lite all`` started; accounts provisioned; what the cloud
serves discovered; ``tempest.conf`` written; the tests run; the cloud stopped (or
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
import time
import urllib.error
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from conformance import accounts, groups, interop
from conformance.causes import Routes
from conformance.cloud import AllInOne, CloudError, CloudSettings
from conformance.discovery import Discovered, HttpClient, discover
from conformance.outcomes import Outcome, classify
from conformance.report import rows, table_text, totals_line, write
from conformance.tempest_conf import TempestSettings, build, render
from conformance.workspace import RunResult, TempestError, Workspace
from nova_lite.exceptions import NovaLiteError

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
    quiet: bool,
    tempest_venv: Path,
    amqp_url: str,
) -> None:
    """Run Tempest's API tests against a fresh ``nova-lite all`` and report per module."""
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
        tests = workspace.list_tests(include)
    except TempestError as exc:
        _fail(str(exc), work)
    if not tests:
        _fail(f"No Tempest test matches {include}.", work)
    if list_only:
        click.echo("\n".join(tests))
        shutil.rmtree(work, ignore_errors=True)
        return
    out = (output or _default_output(label)).absolute()
    click.echo(f"{len(tests)} tests selected; work directory {work}; report in {out}")
    run = Run(work, workspace, out, account_mode, amqp_url)
    status, tests = run.execute(
        include, concurrency=concurrency, timeout=timeout, echo=not quiet, keep=keep
    )
    if status == 2:
        sys.exit(status)
    title = TITLES.get(label, f"Tempest: {regex}")
    outcomes = run.report(tests, title, group_set or "")
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


class Run:
    """One run's cloud, workspace and report directory."""

    def __init__(
        self, work: Path, workspace: Workspace, out: Path, account_mode: str, amqp_url: str
    ) -> None:
        self.work = work
        self.workspace = workspace
        self.out = out
        self.account_mode = account_mode
        self.cloud = AllInOne(CloudSettings(work_dir=work, amqp_url=amqp_url))
        self.discovered: Discovered | None = None
        self.records: list[dict[str, object]] = []

    def execute(
        self, include: list[str], *, concurrency: int, timeout: float, echo: bool, keep: bool
    ) -> tuple[int, list[str]]:
        """Start the cloud, configure Tempest, run what `include` selects, stop.

        The exit status so far, and the tests selected.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            tests, result = self._run(include, concurrency=concurrency, timeout=timeout, echo=echo)
        except (CloudError, TempestError, NovaLiteError, OSError, urllib.error.URLError) as exc:
            click.echo(f"scripts/tempest: {type(exc).__name__}: {exc}", err=True)
            return 2, []
        finally:
            self._finish(keep)
        click.echo(f"ran in {result.seconds:.0f} s" + (" (timed out)" if result.timed_out else ""))
        return (3 if result.timed_out else 0), tests

    def _run(
        self, include: list[str], *, concurrency: int, timeout: float, echo: bool
    ) -> tuple[list[str], RunResult]:
        started = time.monotonic()
        self.cloud.start()
        self._configure(concurrency)
        click.echo(f"cloud at {self.cloud.url} ready in {time.monotonic() - started:.0f} s")
        # Listed again under the final tempest.conf: some tags depend on it (a test is
        # "slow" only when validation is on), and --load-list matches whole ids.
        tests = self.workspace.list_tests(include)
        (self.out / "selected.txt").write_text("\n".join(tests) + "\n", encoding="utf-8")
        subunit = self.out / "subunit.stream"
        result = self.workspace.run(
            tests, concurrency=concurrency, timeout=timeout, subunit=subunit, echo=echo
        )
        self.workspace.to_json(subunit, self.work / "records.json", self.workspace.log)
        self.records = json.loads((self.work / "records.json").read_text())
        return tests, result

    def _configure(self, concurrency: int) -> None:
        settings = self.cloud.settings
        admin = ("admin", settings.admin_password, "admin")
        self.discovered = discover(self.cloud.url, *admin)
        accounts_file = None
        if self.account_mode == "pre-provisioned":
            planned = accounts.plan(concurrency)
            accounts.provision(self.cloud.config_path, planned)
            accounts_file = self.workspace.path / "etc" / "accounts.yaml"
            accounts_file.write_text(accounts.accounts_yaml(planned), encoding="utf-8")
        else:
            _warn_without_identity_admin(self.cloud.url, admin)
        conf = render(
            build(
                TempestSettings(
                    base_url=self.cloud.url,
                    workspace=self.workspace.path,
                    discovered=self.discovered,
                    accounts_file=accounts_file,
                    admin=admin,
                    computes=settings.computes,
                )
            )
        )
        self.workspace.write_conf(conf)
        (self.out / "tempest.conf").write_text(conf, encoding="utf-8")

    def _finish(self, keep: bool) -> None:
        if keep:
            password = self.cloud.settings.admin_password
            click.echo(
                f"kept: the cloud at {self.cloud.url} (admin / {password}), its configuration"
                f" {self.cloud.config_path}, the Tempest workspace {self.workspace.path};"
                f" stop it with: kill {self._pid()}"
            )
            return
        self.cloud.stop()
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        for log in (self.cloud.log_path, self.workspace.log):
            if log.exists():
                with log.open("rb") as src, gzip.open(logs / (log.name + ".gz"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
        shutil.rmtree(self.work, ignore_errors=True)

    def _pid(self) -> str:
        proc = self.cloud._proc  # the child's pid is for the operator's kill command
        return str(proc.pid) if proc is not None else "?"

    def report(self, tests: list[str], title: str, group_set: str) -> list[Outcome]:
        """Classify, write the report files, print the table; the outcomes."""
        (self.out / "run.json").write_text(json.dumps({"title": title, "groups": group_set}))
        return report_run(self.out, tests, self.records, title, group_set)


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


def _warn_without_identity_admin(base: str, admin: tuple[str, str, str]) -> None:
    client = HttpClient(base)
    client.login(*admin)
    try:
        client.post("/v3/projects", {"project": {"name": "tempest-probe", "domain_id": "default"}})
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            click.echo(
                "scripts/tempest: warning: --accounts dynamic needs Keystone's project, user and"
                f" role management (POST /v3/projects answered {exc.code}); expect every class to"
                " fail in set-up.",
                err=True,
            )


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
