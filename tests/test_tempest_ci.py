"""The CI subset of Tempest: every test of ``conformance/ci-expected-pass.txt`` passes.

It runs the conformance runner (``python -m conformance --groups ci``, what
``scripts/tempest`` runs) against a fresh ``nova-lite all`` on RabbitMQ, so a
change that breaks an API Tempest checks fails here, naming the test and the
first line of its failure. It needs Tempest's virtual environment
(``scripts/tempest --install`` makes ``.venv-tempest``; ``TEMPEST_VENV`` may name
another): without it the tests skip, and with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import groups
from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parent.parent
TEMPEST_VENV = Path(os.environ.get("TEMPEST_VENV", REPO / ".venv-tempest")).absolute()

pytestmark = [pytest.mark.tempest, pytest.mark.rabbitmq]


@pytest.fixture(scope="module")
def tempest_venv() -> Path:
    """Tempest's virtual environment; skips (in CI, fails) when there is none."""
    if not (TEMPEST_VENV / "bin" / "tempest").exists():
        message = f"No Tempest at {TEMPEST_VENV} (scripts/tempest --install makes it)"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing Tempest is a failure).")
        pytest.skip(message)
    return TEMPEST_VENV


def test_the_ci_subset_passes(tempest_venv: Path, rabbitmq_url: str, tmp_path: Path) -> None:
    """Every test of the CI expected-pass list passes against a fresh all-in-one cloud."""
    out = tmp_path / "report"
    command = [sys.executable, "-m", "conformance", "--groups", "ci", "--quiet"]
    command += ["--expect-pass", str(groups.CI_EXPECTED_PASS), "--output", str(out)]
    command += ["--tempest-venv", str(tempest_venv), "--amqp-url", rabbitmq_url, "--timeout", "900"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    expected = set(groups.read_test_list(groups.CI_EXPECTED_PASS))
    results = {r["test"]: r["outcome"] for r in json.loads((out / "results.json").read_text())}
    assert set(results) == expected, "the run selected other tests than the list"
    assert set(results.values()) == {"passed"}
