"""nova_lite as a distributed system: one OS process per service, over RabbitMQ.

The test starts identity, api, conductor, scheduler, image, network, volume and
three compute hosts as separate processes (``python -m nova_lite service ...``),
drives them only through the ``nova-lite`` command line, kills a compute host and
checks it is reported down and avoided, then stops everything with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nova_lite.testing import TransportFactory

CONTROL_PLANE = ("identity", "api", "conductor", "scheduler", "image", "network", "volume")
COMPUTES = ("c1", "c2", "c3")
REPORT_INTERVAL = 0.5
SERVICE_DOWN_TIME = 2.5
#: Seconds a service process may take to log ``launcher.ready``: ten of them start at
#: once, each importing nova_lite, which on a busy 2-core machine takes tens of seconds.
STARTUP = 90.0


class Process:
    """One service process, with its JSON log lines collected as they arrive."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._seen = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode(errors="replace").rstrip()
            self.raw.append(text)
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                continue
            async with self._seen:
                self.lines.append(record)
                self._seen.notify_all()

    async def wait_for_event(self, event: str, timeout: float = STARTUP) -> None:
        """Wait until the process logs `event` (fails with its output otherwise)."""

        def seen() -> bool:
            return any(r.get("event") == event for r in self.lines)

        async with self._seen:
            try:
                await asyncio.wait_for(self._seen.wait_for(seen), timeout)
            except TimeoutError:
                pytest.fail(f"{self.name} never logged {event}:\n" + "\n".join(self.raw[-20:]))

    async def finish(self) -> int:
        code = await self.proc.wait()
        await self._reader
        return code


@contextlib.asynccontextmanager
async def launched(config: Path, *command: str) -> AsyncIterator[Process]:
    """``python -m nova_lite COMMAND --config CONFIG`` until ready; SIGTERM on the way out,
    which must end it with 0 (killed instead if the body failed first)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nova_lite", *command, "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    process = Process(command[0], proc)
    try:
        await process.wait_for_event("launcher.ready")
        yield process
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.finish(), 60) == 0, "\n".join(process.raw[-20:])
    finally:
        if proc.returncode is None:
            proc.kill()
            await process.finish()


@pytest.fixture
async def deployment(
    rabbitmq_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Path, dict[str, Process]]]:
    """Every service in its own process, sharing one configuration file."""
    names = TransportFactory("rabbitmq", rabbitmq_url)
    config = tmp_path / "nova-lite.toml"
    config.write_text(
        f'transport_url = "{rabbitmq_url}"\n'
        f'state_path = "{tmp_path / "state"}"\n'
        f'[rpc]\nexchange = "{names.name("dep")}"\nqueue_prefix = "{names.name("q")}."\n'
        "timeout = 30\n"
        '[logging]\nformat = "json"\n'
        '[identity]\nbootstrap_password = "s3cret-admin"\n'
        f"[compute]\nreport_interval = {REPORT_INTERVAL}\n"
        f"service_down_time = {SERVICE_DOWN_TIME}\n"
        '[client]\nusername = "admin"\npassword = "s3cret-admin"\nproject = "admin"\n'
    )
    processes: dict[str, Process] = {}
    for name, host in [*((n, "ctl") for n in CONTROL_PLANE), *(("compute", h) for h in COMPUTES)]:
        key = host if name == "compute" else name
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nova_lite",
            "service",
            name,
            "--host",
            host,
            "--config",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        processes[key] = Process(key, proc)
    try:
        for process in processes.values():
            await process.wait_for_event("launcher.ready")
        yield config, processes
    finally:
        for process in processes.values():
            if process.proc.returncode is None:
                process.proc.kill()
                await process.finish()
        await _delete_queues(rabbitmq_url, names.name("q") + ".", names.name("dep"))


async def _delete_queues(url: str, prefix: str, exchange: str) -> None:
    """Leave the shared broker tidy: the services' queues outlive their processes."""
    from nova_lite.loader import get_transport

    topics = [*CONTROL_PLANE, "compute"]
    names = [f"{prefix}{exchange}_dead_letters"]
    names += [f"{prefix}{topic}" for topic in topics]
    names += [f"{prefix}{topic}.ctl" for topic in CONTROL_PLANE]
    names += [f"{prefix}compute.{host}" for host in COMPUTES]
    async with get_transport(url) as transport:
        for name in names:
            await transport.delete_queue(name)


async def cli(config: Path, *args: str) -> Any:
    """Run a ``nova-lite`` client command with --format json and return its output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nova_lite",
        *args,
        "--format",
        "json",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NOVA_LITE_LOGGING_LEVEL": "error"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"nova-lite {' '.join(args)} failed: {err.decode()}"
    return json.loads(out) if out.strip() else None


async def host_states(config: Path) -> dict[str, str]:
    return {h["host"]: h["state"] for h in await cli(config, "host", "list")}


async def test_services_in_separate_processes(
    deployment: tuple[Path, dict[str, Process]], tmp_path: Path
) -> None:
    """Servers boot across hosts; a killed host goes down and is avoided; SIGTERM is clean."""
    config, processes = deployment
    image = tmp_path / "disk.img"
    image.write_bytes(os.urandom(4096))
    await cli(config, "network", "create", "private", "--cidr", "10.20.0.0/24", "--shared")
    await cli(config, "image", "create", "cirros", "--file", str(image), "--public")
    await cli(
        config,
        "flavor",
        "create",
        "m1.tiny",
        "--id",
        "1",
        "--vcpus",
        "1",
        "--ram",
        "512",
        "--disk",
        "1",
    )

    servers = await cli(
        config,
        "server",
        "create",
        "web",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--count",
        "6",
        "--wait",
    )
    assert {s["status"] for s in servers} == {"ACTIVE"}
    assert {s["host"] for s in servers} == set(COMPUTES)

    processes["c1"].proc.send_signal(signal.SIGKILL)
    await processes["c1"].finish()
    deadline = time.monotonic() + 10 * SERVICE_DOWN_TIME
    # Liveness is a matter of time (service_down_time), not an event to await.
    while (await host_states(config)).get("c1") != "down":
        assert time.monotonic() < deadline, "c1 was never reported down"
        await asyncio.sleep(REPORT_INTERVAL)
    assert (await host_states(config))["c2"] == "up"

    later = await cli(
        config,
        "server",
        "create",
        "late",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--count",
        "4",
        "--wait",
    )
    assert {s["status"] for s in later} == {"ACTIVE"}
    assert "c1" not in {s["host"] for s in later}

    everything = await cli(config, "server", "list")
    assert all(s["task_state"] is None for s in everything)  # nothing half-done

    for process in processes.values():
        if process.proc.returncode is None:
            process.proc.send_signal(signal.SIGTERM)
    for name, process in processes.items():
        if name == "c1":
            continue
        assert await asyncio.wait_for(process.finish(), 30) == 0, "\n".join(process.raw[-20:])
        events = [r.get("event") for r in process.lines]
        assert "launcher.stopping" in events and "service.stopped" in events
        assert not any(r.get("level") in ("error", "critical") for r in process.lines), name
