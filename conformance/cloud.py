"""The cloud Tempest runs against: ``nova-lite all`` in its own process, on RabbitMQ.

Its configuration lives in the run's work directory (state there too), with an
exchange and a queue prefix of its own, so runs share the broker with the tests
and with each other without hearing each other. It serves every API on one
address on the loopback interface, and the catalog advertises that address.
Quotas are raised well above what Tempest's classes use together, so a quota is
never what fails a test (the quota tests read limits, they do not fill them). The
scheduler has the SameHostFilter and DifferentHostFilter on besides its defaults.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import attrs

from nova_lite.config import Config, SchedulerConfig
from nova_lite.launcher import SERVICES
from nova_lite.loader import get_transport

__all__ = [
    "ENABLED_FILTERS",
    "AllInOne",
    "CloudError",
    "CloudSettings",
    "delete_queues",
    "kept_settings",
]

READY_EVENT = "launcher.ready"
HOST = "tempest"
# nova_lite's default filters and the two that Nova has but does not enable by default
# (the scheduler hints same_host and different_host), which Tempest's multinode tests
# use when it is told they are on.
ENABLED_FILTERS = (*SchedulerConfig().enabled_filters, "SameHostFilter", "DifferentHostFilter")


class CloudError(RuntimeError):
    """The cloud did not start (the message says why and where its log is)."""


@attrs.frozen
class CloudSettings:
    """What the cloud is started with."""

    work_dir: Path
    amqp_url: str
    computes: int = 3
    port: int = 0  # 0: a free port
    uid: str = attrs.field(factory=lambda: uuid.uuid4().hex[:10])
    admin_password: str = attrs.field(factory=lambda: secrets.token_urlsafe(12))

    @property
    def exchange(self) -> str:
        """The run's own control exchange."""
        return f"tempest-{self.uid}"

    @property
    def queue_prefix(self) -> str:
        """The run's own queue prefix."""
        return f"tempest-{self.uid}."


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def config_text(settings: CloudSettings, port: int) -> str:
    """The TOML configuration of the all-in-one process."""
    state = settings.work_dir / "state"
    return (
        f'transport_url = "{settings.amqp_url}"\n'
        f'host = "{HOST}"\n'
        f'state_path = "{state}"\n'
        f'[rpc]\nexchange = "{settings.exchange}"\nqueue_prefix = "{settings.queue_prefix}"\n'
        "timeout = 60\n"
        '[logging]\nformat = "json"\nlevel = "info"\n'
        f'[identity]\nbootstrap_password = "{settings.admin_password}"\n'
        f'[api]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
        f"[scheduler]\nenabled_filters = {json.dumps(list(ENABLED_FILTERS))}\n"
        "[quota]\ninstances = 500\ncores = 2000\nram = 4096000\n"
        "[image]\nimage_count_total = 1000\n"
        "[network]\nquota_port = 5000\n"
        "[volume]\nquota_volumes = 500\n"
        '[client]\nusername = "admin"\n'
        f'password = "{settings.admin_password}"\nproject = "admin"\n'
    )


class AllInOne:
    """``nova-lite all`` as a child process: start, wait until ready, stop, tidy the broker."""

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self.port = settings.port or free_port()
        self.config_path = settings.work_dir / "nova-lite.toml"
        self.log_path = settings.work_dir / "cloud.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self._proc and self._proc.poll() is None else "stopped"
        return f"<AllInOne {self.url} {state}>"

    @property
    def url(self) -> str:
        """The base URL of every API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        """Start the process, its log going to ``cloud.log``, and wait until it is ready.

        The log is a file, not a pipe, so a cloud kept after the runner exits
        (``--keep``) goes on logging; readiness is its ``launcher.ready`` line.
        """
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text(self.settings, self.port), encoding="utf-8")
        command = [sys.executable, "-m", "nova_lite", "all", "--computes"]
        command += [str(self.settings.computes), "--config", str(self.config_path)]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self._logged(READY_EVENT):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise CloudError(f"nova-lite all did not start: see {self.log_path}")
            time.sleep(0.1)

    def _logged(self, event: str) -> bool:
        with self.log_path.open("rb") as log:
            return any(_event(line) == event for line in log)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after `timeout`; then delete the run's queues."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        delete_queues(self.settings)

    @property
    def pid(self) -> int | None:
        """The process id (for the ``kill`` that stops a kept cloud)."""
        return self._proc.pid if self._proc is not None else None


def _event(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("event") if isinstance(record, dict) else None


def delete_queues(settings: CloudSettings) -> None:
    """Leave the shared broker tidy: the services' queues outlive the process."""
    topics = {manager.topic for manager in SERVICES.values()}
    prefix, exchange = settings.queue_prefix, settings.exchange
    queues = [f"{prefix}{exchange}_dead_letters", *(f"{prefix}{t}" for t in topics)]
    queues += [f"{prefix}{t}.{HOST}" for t in topics]
    queues += [f"{prefix}compute.compute{i}" for i in range(1, settings.computes + 1)]

    async def delete() -> None:
        async with get_transport(settings.amqp_url) as transport:
            for queue in queues:
                await transport.delete_queue(queue)

    asyncio.run(delete())


def kept_settings(work_dir: Path) -> CloudSettings:
    """The settings of a cloud a run kept (``--keep``), read back from its work directory."""
    config = Config.load(str(work_dir / "nova-lite.toml"))
    uid = config.rpc.exchange.removeprefix("tempest-")
    return CloudSettings(work_dir=work_dir, amqp_url=config.transport_url, uid=uid)
