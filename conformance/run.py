"""One run: the cloud, the Tempest workspace and the report directory, in that order.

`Run.execute` starts ``nova-lite all``, provisions the accounts, reads what the
cloud serves, writes ``tempest.conf``, lists the selected tests under it, runs
them, converts the stream, and stops the cloud (or keeps it, with the work
directory, for debugging); whatever fails on the way, the cloud is stopped.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
import urllib.error
from pathlib import Path

import click

from conformance import accounts
from conformance.cloud import AllInOne, CloudError, CloudSettings
from conformance.discovery import HttpClient, discover
from conformance.tempest_conf import TempestSettings, build, render
from conformance.workspace import RunResult, TempestError, Workspace
from nova_lite.exceptions import NovaLiteError

__all__ = ["Run"]


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
        # Listed under the final tempest.conf: some tags depend on it (a test is "slow"
        # only when validation is on), and --load-list matches whole ids.
        tests = self.workspace.list_tests(include)
        if not tests:
            raise TempestError(f"No Tempest test matches {include}.")
        click.echo(f"{len(tests)} tests selected")
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
        discovered = discover(self.cloud.url, *admin)
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
                    discovered=discovered,
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
                f" stop it with: kill {self.cloud.pid}; then tidy its queues off the broker:"
                f" scripts/tempest --delete-queues {self.work}"
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

    def save_labels(self, title: str, group_set: str) -> None:
        """Remember the run's title and group set (for ``--report`` later)."""
        (self.out / "run.json").write_text(json.dumps({"title": title, "groups": group_set}))


def _warn_without_identity_admin(base: str, admin: tuple[str, str, str]) -> None:
    """Say so when dynamic credentials cannot work: Tempest first looks up the domain
    and the roles, then creates a project and users (read-only checks here)."""
    client = HttpClient(base)
    client.login(*admin)
    missing = []
    for path in ("/v3/domains?name=Default", "/v3/roles"):
        try:
            if client.get(path) is None:
                missing.append(path)
        except urllib.error.HTTPError:
            missing.append(path)
    if missing:
        click.echo(
            "scripts/tempest: warning: --accounts dynamic needs Keystone's domains, projects,"
            f" users and roles; {', '.join('GET ' + p for p in missing)} not served: expect"
            " every class to fail in set-up.",
            err=True,
        )
