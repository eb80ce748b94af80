"""The cloud Tempest runs against: ``nova-lite all`` in its own process, on RabbitMQ.

Its configuration lives in the run's work directory (state there too), with an
exchange and a queue prefix of its own, so runs share the broker with the tests
and with each other without hearing each other. It serves every API on one
address on the loopback interface, and the catalog advertises that address.
Quotas are raised well above what Tempest's classes use together, so a quota is
never what fails a test (the quota tests read limits, they do not fill them).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import IO

import attrs

from nova_lite.launcher import SERVICES

__all__ = ["AllInOne", "CloudError", "CloudSettings"]

READY_EVENT = "launcher.ready"
HOST = "tempest"


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
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._proc and self._proc.poll() is None else "stopped"
        return f"<AllInOne {self.url} {state}>"

    @property
    def url(self) -> str:
        """The base URL of every API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        """Start the process and wait for it to log that it is ready."""
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text(self.settings, self.port), encoding="utf-8")
        command = [sys.executable, "-m", "nova_lite", "all", "--computes"]
        command += [str(self.settings.computes), "--config", str(self.config_path)]
        self._proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc.stderr,), daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise CloudError(f"nova-lite all was not ready in {timeout:.0f} s: see {self.log_path}")

    def _read(self, stream: IO[bytes]) -> None:
        with self.log_path.open("wb") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if not self._ready.is_set() and _event(line) == READY_EVENT:
                    self._ready.set()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after `timeout`; then delete the run's queues."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(10)
        delete_queues(self.settings)

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._proc is not None and self._proc.poll() is None


def _event(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("event") if isinstance(record, dict) else None


def delete_queues(settings: CloudSettings) -> None:
    """Leave the shared broker tidy: the services' queues outlive the process."""
    import asyncio

    from nova_lite.loader import get_transport

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
