"""A RabbitMQ node of a test's own, to restart and kill: `PrivateRabbitMQ`.

A test of broker faults must never touch the RabbitMQ other tests (and other
people) share. `PrivateRabbitMQ` starts ``rabbitmq-server`` as a node of its own:
its own node name (``nl-<random>@localhost``), AMQP and distribution ports picked
free, data and logs in its own directory, its own Erlang cookie, no plugins (so no
management port to clash), and the system configuration files ignored. Every
``rabbitmqctl`` command it runs names that node (``-n``), and `stop` halts it; the
shared broker on 5672 is never addressed::

    async with PrivateRabbitMQ(tmp_path / "rabbit") as node:
        async with TransportFactory.rabbitmq(node.url) as broker:
            transport = await broker.connect()
            await node.stop_app()       # every connection drops
            await node.start_app()      # and comes back by itself
            await node.kill()           # the broker's process dies (SIGKILL)
            await node.revive()         # a new process on the same data

It needs the RabbitMQ server scripts (Debian's ``/usr/lib/rabbitmq/bin``, or
``rabbitmq-server`` and ``rabbitmqctl`` on ``PATH``, or the directory named by
``$NOVA_LITE_TEST_RABBITMQ_BIN``); `PrivateRabbitMQ.available` says whether they
are there. It runs as any user: nothing it writes is outside its directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog

from nova_lite.exceptions import TransportError, TransportUnreachable

__all__ = ["RABBITMQ_BIN_VARIABLE", "PrivateRabbitMQ", "rabbitmq_scripts"]

log = structlog.get_logger(__name__)

RABBITMQ_BIN_VARIABLE = "NOVA_LITE_TEST_RABBITMQ_BIN"
#: Debian's and Ubuntu's real scripts; ``/usr/sbin``'s are wrappers that switch to
#: the ``rabbitmq`` user (and its home, so its cookie) when run as root.
_DISTRO_BIN = Path("/usr/lib/rabbitmq/bin")
#: The ports rabbitmqctl itself listens on for Erlang distribution (its default range).
_CLI_PORTS = range(35672, 35683)
STARTUP_TIMEOUT = 90.0  # a cold node on a busy 2-core machine takes 5-20 s
COMMAND_TIMEOUT = 60.0
_PROBE_TIMEOUT = 5.0  # one AMQP greeting asked of the node's port


def rabbitmq_scripts() -> Path | None:
    """The directory holding ``rabbitmq-server`` and ``rabbitmqctl``, if any is installed."""
    candidates = [os.environ.get(RABBITMQ_BIN_VARIABLE), str(_DISTRO_BIN)]
    on_path = shutil.which("rabbitmq-server")
    if on_path is not None:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if candidate and all((Path(candidate) / s).is_file() for s in _SCRIPTS):
            return Path(candidate)
    return None


_SCRIPTS = ("rabbitmq-server", "rabbitmqctl")


def _free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick), outside rabbitmqctl's range."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _CLI_PORTS:
            return port


class PrivateRabbitMQ:
    """One RabbitMQ node for one test: started, restarted, killed and stopped on demand.

    `directory` holds its data, logs, configuration and cookie (a temporary one,
    removed at `stop`, when not given). `url` is its AMQP URL (guest account on
    127.0.0.1). An async context manager; or call `start` and `stop` yourself.
    """

    def __init__(self, directory: Path | None = None, *, scripts: Path | None = None) -> None:
        found = scripts or rabbitmq_scripts()
        if found is None:
            raise TransportUnreachable(
                "No RabbitMQ server scripts found: install rabbitmq-server, or set "
                f"${RABBITMQ_BIN_VARIABLE} to the directory holding rabbitmq-server."
            )
        self.scripts = found
        self._owns_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="nova-lite-rabbit-"))
        self.node = f"nl-{secrets.token_hex(4)}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._process: asyncio.subprocess.Process | None = None
        self._env = self._environment()

    @staticmethod
    def available() -> bool:
        """Whether the RabbitMQ server scripts are installed here."""
        return rabbitmq_scripts() is not None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PrivateRabbitMQ {self.node} port={self.port} {state}>"

    @property
    def running(self) -> bool:
        """Whether the node's process is alive (its application may be stopped)."""
        return self._process is not None and self._process.returncode is None

    @property
    def log_file(self) -> Path:
        """The node's console output: read it when the node misbehaves."""
        return self.directory / "console.log"

    def _environment(self) -> dict[str, str]:
        """The node's environment: everything of its own, nothing from /etc/rabbitmq."""
        home = self.directory / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16).upper())
            cookie.chmod(0o400)
        empty, config = self.directory / "empty", self.directory / "rabbitmq.conf"
        empty.write_text("")
        config.write_text("")  # not /etc/rabbitmq/rabbitmq.conf, which names port 5672
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        return inherited | {
            "HOME": str(home),  # where Erlang reads the cookie, node and rabbitmqctl alike
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_PID_FILE": str(self.directory / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(empty),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.directory / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(empty),
        }

    async def start(self) -> None:
        """Start the node and return once it accepts AMQP connections."""
        if self.running:
            return
        with self.log_file.open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                str(self.scripts / "rabbitmq-server"),
                env=self._env,
                cwd=self.directory,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended whole at stop
            )
        log.info("private_rabbitmq.starting", node=self.node, port=self.port)
        try:
            await self._await_startup()
        except BaseException:
            await self._end_process()
            raise

    async def _await_startup(self) -> None:
        """Wait until the node serves AMQP, or fail naming its log.

        Each ``rabbitmqctl`` run starts an Erlang VM of its own (a second or more of
        CPU), so readiness is asked of the node's AMQP port instead: the node opens
        it once it has booted, and `_serves_amqp` waits for its protocol greeting.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while loop.time() < deadline:
            if not self.running:
                raise TransportUnreachable(
                    f"The private RabbitMQ node {self.node} exited while starting; "
                    f"see {self.log_file}."
                )
            if await self._serves_amqp():
                return
            await asyncio.sleep(0.2)
        raise TransportUnreachable(
            f"The private RabbitMQ node {self.node} did not start within "
            f"{STARTUP_TIMEOUT:g} s; see {self.log_file}."
        )

    async def _serves_amqp(self) -> bool:
        """Whether the node answers an AMQP 0-9-1 protocol header with its greeting."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), _PROBE_TIMEOUT
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"AMQP\x00\x00\x09\x01")
            # A method frame (type 1) on channel 0: Connection.Start, the broker serves.
            greeting = await asyncio.wait_for(reader.readexactly(3), _PROBE_TIMEOUT)
            return greeting == b"\x01\x00\x00"
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl -n <this node> <args>``; its output, or `TransportError`."""
        code, output = await self._run_ctl(*args)
        if code != 0:
            raise TransportError(
                f"rabbitmqctl {' '.join(args)} on {self.node} failed ({code}): {output.strip()}"
            )
        return output

    async def _run_ctl(self, *args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(self.scripts / "rabbitmqctl"),
            "-n",
            self.node,
            *args,
            env=self._env,
            cwd=self.directory,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, f"no answer within {COMMAND_TIMEOUT:g} s"
        return process.returncode or 0, output.decode(errors="replace")

    async def stop_app(self) -> None:
        """Stop the RabbitMQ application (``rabbitmqctl stop_app``): every connection drops.

        Durable queues and persistent messages stay on disk; the Erlang node keeps
        running, so `start_app` brings the broker back quickly.
        """
        await self.ctl("stop_app")
        log.info("private_rabbitmq.app_stopped", node=self.node)

    async def start_app(self) -> None:
        """Start the application again and return once it serves AMQP."""
        await self.ctl("start_app")
        await self._await_startup()
        log.info("private_rabbitmq.app_started", node=self.node)

    async def restart(self, *, outage: float = 0.0) -> None:
        """`stop_app`, wait `outage` seconds, `start_app`: a broker restart."""
        await self.stop_app()
        await asyncio.sleep(outage)
        await self.start_app()

    async def kill(self) -> None:
        """Kill the node's process with SIGKILL, as a crash would: nothing is flushed."""
        if not self.running:
            return
        await self._end_process(gracefully=False)
        log.info("private_rabbitmq.killed", node=self.node)

    async def revive(self) -> None:
        """Start a new process for the node on the same data (after `kill` or `stop`)."""
        await self.start()

    async def stop(self) -> None:
        """Halt the node (SIGTERM, a graceful stop, then SIGKILL if it lingers); never raises."""
        try:
            await self._end_process(gracefully=True)
        finally:
            if self._owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    async def _end_process(self, *, gracefully: bool = True) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        if gracefully:
            # rabbitmq-server stops the node properly on SIGTERM (as `rabbitmqctl stop`
            # does, without an Erlang VM more to start).
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the script and its Erlang VM
            await process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
