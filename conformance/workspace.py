"""A Tempest workspace: made with ``tempest init``, listed, run with a timeout, read back.

Everything runs with the Tempest virtual environment's own programs, in the
workspace directory (Tempest reads ``etc/tempest.conf`` there). The workspace
registry ``tempest init`` keeps is the run's own file, not ``~/.tempest``. The
run is listed first and then run with exactly that list (``--load-list``), so
what was selected and what ran can be compared test by test; its subunit stream
is written to a file as it arrives (a run cut short by its timeout still leaves
every result it produced) and echoed, one line per test (`conformance.subunit_json`).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import attrs

__all__ = ["RunResult", "TempestError", "Workspace"]

SUBUNIT_JSON = Path(__file__).with_name("subunit_json.py")
SAMPLE_OPTION = re.compile(r"^#?\s*([\w-]+) =")


class TempestError(RuntimeError):
    """Tempest could not be set up or listed (the message has its output)."""


@attrs.frozen
class RunResult:
    """How a run ended: its exit status, whether it timed out, how long it took."""

    returncode: int
    timed_out: bool
    seconds: float


class Workspace:
    """One ``tempest init`` workspace in `path`, driven with the venv at `venv`."""

    def __init__(self, venv: Path, path: Path) -> None:
        self.venv = venv
        self.path = path
        self.conf = path / "etc" / "tempest.conf"

    def __repr__(self) -> str:
        return f"<Workspace {self.path}>"

    def _bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def init(self) -> None:
        """``tempest init`` the workspace (its registry file beside it)."""
        registry = self.path.parent / "workspace.yaml"
        self._check(
            [self._bin("tempest"), "init", "--workspace-path", str(registry), str(self.path)]
        )

    def known_options(self) -> dict[str, set[str]]:
        """Every option of Tempest's sample configuration, by section."""
        known: dict[str, set[str]] = {}
        section = None
        for line in (self.path / "etc" / "tempest.conf.sample").read_text().splitlines():
            if line.startswith("[") and line.endswith("]"):
                section = known.setdefault(line[1:-1], set())
            elif section is not None and (match := SAMPLE_OPTION.match(line)):
                section.add(match.group(1))
        return known

    def write_conf(self, text: str) -> None:
        """Write ``tempest.conf``, refusing options Tempest does not know (it ignores them)."""
        parser = configparser.ConfigParser(interpolation=None, default_section="no-such-section")
        parser.read_string(text)
        known = self.known_options()
        unknown = [
            f"[{section}] {name}"
            for section in parser.sections()
            for name in parser[section]
            if name not in known.get(section, set())
        ]
        if unknown:
            raise TempestError(
                "tempest.conf has options Tempest does not know: " + ", ".join(unknown)
            )
        self.conf.write_text(text, encoding="utf-8")

    def list_tests(self, include_list: Iterable[str]) -> list[str]:
        """The full ids of the tests the include-list regexes select, sorted."""
        include = self.path / "include-list.txt"
        include.write_text("\n".join(include_list) + "\n", encoding="utf-8")
        output = self._check(
            [self._bin("tempest"), "run", "--list-tests", "--include-list", str(include)]
        )
        return sorted({line.strip() for line in output.splitlines() if line.startswith("tempest.")})

    def run(
        self, tests: list[str], *, concurrency: int, timeout: float, subunit: Path, echo: bool
    ) -> RunResult:
        """Run exactly `tests`, writing the subunit stream to `subunit`; kill it at `timeout`."""
        load = self.path / "load-list.txt"
        load.write_text("\n".join(tests) + "\n", encoding="utf-8")
        command = [self._bin("tempest"), "run", "--load-list", str(load), "--subunit"]
        command += ["--concurrency", str(concurrency)]
        started = time.monotonic()
        with (self.path / "tempest-run.log").open("wb") as errors:
            tempest = subprocess.Popen(
                command,
                cwd=self.path,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
            )
            trace = self._trace(echo)
            copier = threading.Thread(target=_tee, args=(tempest.stdout, subunit, trace.stdin))
            copier.start()
            timed_out = _wait(tempest, timeout)
            copier.join()
            trace.wait()
        return RunResult(tempest.returncode, timed_out, time.monotonic() - started)

    def _trace(self, echo: bool) -> subprocess.Popen[bytes]:
        command = [self._bin("python"), str(SUBUNIT_JSON), "--trace"]
        out = None if echo else subprocess.DEVNULL
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=out)

    def to_json(self, subunit: Path, records: Path, log: Path | None = None) -> None:
        """Convert the subunit stream into JSON records (`conformance.subunit_json`).

        With Tempest's `log`, each class set-up's record gets the requests it made.
        """
        command = [self._bin("python"), str(SUBUNIT_JSON), str(subunit), str(records)]
        self._check(command + ([str(log)] if log is not None and log.exists() else []))

    @property
    def log(self) -> Path:
        """Tempest's own log file."""
        return self.path / "logs" / "tempest.log"

    def _check(self, command: list[str]) -> str:
        done = subprocess.run(
            command, cwd=self.path if self.path.exists() else None, capture_output=True, text=True
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-4000:]
            raise TempestError(f"{' '.join(command[:3])} failed ({done.returncode}):\n{output}")
        return done.stdout + done.stderr

    def remove(self) -> None:
        """Delete the workspace."""
        shutil.rmtree(self.path, ignore_errors=True)


def _tee(source: IO[bytes], path: Path, sink: IO[bytes] | None) -> None:
    """Copy `source` to the file `path` and to `sink` until it ends (the sink may go away)."""
    with path.open("wb") as out:
        for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
            out.write(chunk)
            out.flush()
            if sink is not None:
                try:
                    sink.write(chunk)
                    sink.flush()
                except BrokenPipeError:
                    sink = None
    if sink is not None:
        sink.close()


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for `proc`; at `timeout`, kill its whole process group. Whether it timed out."""
    try:
        proc.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return True
