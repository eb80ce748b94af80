"""The suite's fixtures: nova_lite.testing's plugin, a watch for secrets in logs, the order.

The `broker`, `transport`, `rabbitmq_url`, `clouds`, `memory_clouds`, `harness` and
`log_events` fixtures come from `nova_lite.testing.pytest_plugin`, enabled here as
the README tells a user to: every transport-level behaviour runs on the in-memory
broker and on RabbitMQ (at ``NOVA_LITE_TEST_AMQP_URL``, default
``amqp://guest:guest@127.0.0.1:5672/``; with ``CI=true`` an unreachable broker fails
the run instead of skipping). What is left here is the suite's own:

- no password or token may appear in any log line of the whole run (with
  pytest-xdist, each worker checks its own lines and the controller fails the run);
- Hypothesis is derandomized under ``CI=true`` (the ``ci`` profile): the same examples
  on every run, and no example database;
- the longest tests are collected first (`LONGEST_FIRST`), so that the workers of
  ``scripts/test`` (pytest-xdist, ``--dist load``) start them early and finish
  together instead of one of them running a long test alone at the end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog
from hypothesis import settings

from nova_lite.testing import TransportFactory, amqp_url

__all__ = ["AMQP_URL", "IN_CI", "TransportFactory"]  # tests import these from here

pytest_plugins = ["nova_lite.testing.pytest_plugin"]

AMQP_URL = amqp_url()
IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis: the same examples on every CI run (derandomized, no example database),
# and new ones on every local run, with failures kept in the local database
# (.hypothesis/, git-ignored) so they replay until fixed; a failure found once is then
# written into its test as an explicit example. NOVA_LITE_TEST_HYPOTHESIS_PROFILE picks
# either profile anywhere (`ci` to reproduce CI's examples locally).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(
    os.environ.get("NOVA_LITE_TEST_HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "explore")
)


# -- the longest tests first -------------------------------------------------------

#: Modules (or single tests) that take tens of seconds to minutes, longest first. An
#: entry left here after its test got quick only moves it forward; a slow test not
#: listed only risks running alone at the end of a parallel run.
LONGEST_FIRST = (
    "tests/test_chaos.py",
    "tests/test_tempest_ci.py",
    "tests/test_all_in_one.py",
    "tests/test_http_cli_admin.py",
    "tests/test_http_cli_images.py",
    "tests/test_http_cli.py",
    "tests/test_http_cli_identity.py",
    "tests/test_simulate.py",
    "tests/test_policy_matrix.py",
    "tests/test_http_cli_network.py",
    "tests/test_http_cli_servers.py",
    "tests/test_broker_restart.py",
    "tests/test_deployment.py",
    "tests/test_testing.py::test_a_private_rabbitmq_restarts_and_dies_alone",
    "tests/test_reliability.py::test_casts_queued_while_workers_are_down",
    "tests/test_benchmarks.py::test_restart_scenario",
    "tests/test_faults.py",
    "tests/test_oslo_interop.py",
)


def _rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the `LONGEST_FIRST` tests first, in that order; the rest keep theirs."""
    items.sort(key=_rank)  # stable: within a rank, the collection's order


# -- no secret in any log line of the whole suite ---------------------------------

_SECRETS: set[str] = set()
_LOG_LINES: list[str] = []
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def _remember_log_line(logger: object, method: str, event_dict: Any) -> Any:
    _LOG_LINES.append(repr(event_dict))
    return event_dict


@pytest.fixture(scope="session", autouse=True)
def _watch_for_secrets_in_logs() -> Iterator[None]:
    """Record every password hashed or checked, every token issued, the broker password of
    every configuration made, and every log event."""
    from nova_lite.config import Config
    from nova_lite.identity import passwords, tokens

    config_init = Config.__init__

    def config_init_and_remember(self: Config, *args: Any, **kwargs: Any) -> None:
        config_init(self, *args, **kwargs)
        parts = urlsplit(self.transport_url)
        # The test broker's "guest" is also its user name, which logs may show.
        if parts.password and len(parts.password) >= 6 and parts.password != parts.username:
            _SECRETS.add(parts.password)

    Config.__init__ = config_init_and_remember  # type: ignore[method-assign]

    scrypt, digest = passwords._scrypt, tokens._digest

    def scrypt_and_remember(password: str, *args: Any) -> bytes:
        if len(password) >= 6:  # shorter test passwords would match by accident
            _SECRETS.add(password)
        return scrypt(password, *args)

    def digest_and_remember(token: str) -> str:
        _SECRETS.add(token)
        return digest(token)

    passwords._scrypt = scrypt_and_remember  # type: ignore[assignment]
    tokens._digest = digest_and_remember
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _remember_log_line,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    )
    _TEST_LOGGING.update(structlog.get_config())
    yield
    passwords._scrypt, tokens._digest = scrypt, digest
    Config.__init__ = config_init  # type: ignore[method-assign]


_TEST_LOGGING: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo any logging set-up a test made (the CLI and benchmarks configure structlog)."""
    yield
    if _TEST_LOGGING:
        structlog.configure(**_TEST_LOGGING)


def _leaked_secrets() -> list[str]:
    """The recorded passwords and tokens that appear in a recorded log event."""
    if not _LOG_LINES:
        return []
    text = "\n".join(_LOG_LINES)
    tokens = {t for t in _SECRETS if len(t) == 43}
    leaked = set(_TOKEN_SHAPE.findall(text)) & tokens
    leaked |= {p for p in _SECRETS - tokens if p in text}
    return sorted(leaked)


_WORKER_LEAKS = "nova_lite_leaked_secrets"  # a pytest-xdist worker's finding, for the controller
_LEAKED_IN_WORKERS: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """(pytest-xdist controller) Collect what a finished worker found leaked."""
    _LEAKED_IN_WORKERS.extend(getattr(node, "workeroutput", {}).get(_WORKER_LEAKS, []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any recorded password or token appears in a log event."""
    leaked = _leaked_secrets()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller decides
        workeroutput[_WORKER_LEAKS] = leaked
        return
    leaked += _LEAKED_IN_WORKERS
    if leaked:
        print(f"\n{len(leaked)} secret(s) appeared in log lines: {sorted(leaked)[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
