"""The README's runnable examples keep running (they are quoted, not just described)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=EXAMPLES.parent
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rpc_quickstart_on_the_in_memory_broker() -> None:
    """examples/rpc_quickstart.py calls, casts and targets a server on memory://."""
    out = _run(str(EXAMPLES / "rpc_quickstart.py"))
    assert "add(2, 3) = 5" in out and "cast received: alice: hello" in out
    assert "add on host1 = 42" in out


def test_rpc_quickstart_on_rabbitmq(rabbitmq_url: str) -> None:
    """The same example runs unchanged over RabbitMQ, given its URL."""
    out = _run(str(EXAMPLES / "rpc_quickstart.py"), rabbitmq_url)
    assert "add(2, 3) = 5" in out and "add on host1 = 42" in out


def test_boot_servers_example() -> None:
    """examples/boot_servers.py boots, shows and deletes a server on the embedded cloud."""
    out = _run(str(EXAMPLES / "boot_servers.py"))
    assert "booted:  web1 ACTIVE" in out and "deleted: web1 DELETED" in out


@pytest.mark.parametrize("servers", [6])
def test_the_demo_command(servers: int, tmp_path: Path) -> None:
    """`nova-lite demo` (the README's first command) boots every server it asks for."""
    out = _run("-m", "nova_lite", "demo", "--servers", str(servers), "--computes", "2")
    assert f"{servers}/{servers} servers ACTIVE" in out


def test_the_testing_example_passes_as_its_own_project() -> None:
    """examples/testing, a project enabling nova_lite's pytest plugin, passes its tests.

    Its endpoint test runs on both brokers (the RabbitMQ run is skipped when none
    answers, and fails with CI=true, as here), its harness test on both, its driver
    test on the in-memory broker.
    """
    out = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(EXAMPLES / "testing"))
    summary = out.strip().splitlines()[-1]
    assert " failed" not in summary and " error" not in summary, out
    assert summary.startswith(("5 passed", "3 passed, 2 skipped")), out


def test_the_readme_quotes_the_testing_example_as_it_is() -> None:
    """The README's "Testing your own endpoints and drivers" code is the example's own."""
    code = (EXAMPLES / "testing" / "test_with_nova_lite.py").read_text()
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert code[code.index("class Calculator:") :] in readme
