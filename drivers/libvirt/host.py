"""One host's libvirt connection: a dedicated thread for its calls, and its events.

libvirt-python blocks: a call waits for the hypervisor (libvirtd, or QEMU itself),
sometimes for seconds. As in Nova, every call therefore runs in one dedicated
thread per connection (`Host.run`), never on the event loop thread, so a slow
hypervisor delays only other hypervisor calls of the same host, never RPC handling.
libvirt's errors are translated there, at the boundary, into nova_lite's.

Lifecycle events come from libvirt's default event loop, which is process-wide by
libvirt's design: `start_event_loop` registers it once and runs it in a daemon
thread. Each event is handed to the asyncio loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import libvirt
import structlog

from nova_lite.compute import power_state
from nova_lite.exceptions import HypervisorError, InstanceNotFound, NovaLiteError

__all__ = ["EventHandler", "Host", "event_power_state", "start_event_loop", "translate"]

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
EventHandler = Callable[[str, int], None]  # (instance uuid, new power state)

_EVENT_LOOP_LOCK = threading.Lock()
_event_loop_started = False


def start_event_loop() -> None:
    """Run libvirt's default event loop in a daemon thread (once per process).

    Also silences libvirt's habit of printing every error to stderr: errors reach
    nova_lite as exceptions, translated by `translate`.
    """
    global _event_loop_started
    with _EVENT_LOOP_LOCK:
        if _event_loop_started:
            return
        libvirt.registerErrorHandler(lambda _ctx, _error: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def _run_event_loop() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


def event_power_state(event: int, detail: int) -> int | None:
    """The power state a lifecycle event leaves a guest in (None: not a power change)."""
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        saved = detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED
        return power_state.SUSPENDED if saved else power_state.SHUTDOWN
    return {
        libvirt.VIR_DOMAIN_EVENT_STARTED: power_state.RUNNING,
        libvirt.VIR_DOMAIN_EVENT_RESUMED: power_state.RUNNING,
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED: power_state.PAUSED,
        libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: power_state.SUSPENDED,
        libvirt.VIR_DOMAIN_EVENT_CRASHED: power_state.CRASHED,
    }.get(event)


def translate(exc: libvirt.libvirtError, uri: str) -> NovaLiteError:
    """nova_lite's exception for a libvirt error (one place, as httpx maps httpcore's)."""
    message = exc.get_error_message() or str(exc)
    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
        return InstanceNotFound(f"The hypervisor at {uri} has no such guest: {message}")
    return HypervisorError(f"libvirt ({uri}): {message}", libvirt_code=exc.get_error_code())


_Call = tuple[Callable[[], Any], concurrent.futures.Future[Any]]


class _CallThread:
    """One daemon thread running submitted calls in order (a one-worker executor).

    A daemon, unlike a ThreadPoolExecutor's workers: a hypervisor call that never
    returns must not keep the process from exiting.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def submit(self, call: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._calls.put((call, future))
        return future

    def finish(self) -> None:
        """End the thread once the calls already submitted are done."""
        self._calls.put(None)

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            call, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)


class Host:
    """The connection to one hypervisor, used only from its own thread."""

    def __init__(self, uri: str, *, name: str) -> None:
        self.uri = uri
        self.name = name
        self._thread: _CallThread | None = None
        self._conn: Any = None  # libvirt.virConnect; touched only in the call thread
        self._callback_id: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler: EventHandler | None = None
        self._waiters: collections.defaultdict[
            str, list[tuple[Collection[int], asyncio.Future[int]]]
        ] = collections.defaultdict(list)

    def __repr__(self) -> str:
        state = "connected" if self._conn is not None else "closed"
        return f"<Host {self.name} {self.uri} {state}>"

    async def start(self) -> None:
        """Connect now (in the connection's thread), rather than at the first call."""
        await self.run(lambda conn: None)

    async def stop(self, timeout: float = 10.0) -> None:
        """Close the connection and end its thread (abandoning it if a call hangs)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        closed = thread.submit(self._close)
        thread.finish()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wrap_future(closed)
        except TimeoutError:
            log.warning("libvirt.stop_abandoned", host=self.name, uri=self.uri, timeout=timeout)

    async def run(
        self, fn: Callable[Concatenate[Any, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(connection, *args, **kwargs)`` in the connection's thread; its result."""
        self._loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = _CallThread(f"libvirt-{self.name}")
        call = functools.partial(self._call, fn, *args, **kwargs)
        return await asyncio.wrap_future(self._thread.submit(call))

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self._connection(), *args, **kwargs)
        except libvirt.libvirtError as exc:
            raise translate(exc, self.uri) from None

    def _connection(self) -> Any:
        if self._conn is not None and self._conn.isAlive():
            return self._conn
        self._close()
        start_event_loop()  # before opening: a connection takes the event loop it finds
        self._conn = libvirt.open(self.uri)
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )
        log.info("libvirt.connected", host=self.name, uri=self.uri)
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(libvirt.libvirtError):
            if self._callback_id is not None:
                conn.domainEventDeregisterAny(self._callback_id)
            conn.close()
        self._callback_id = None

    # -- lifecycle events ----------------------------------------------------------

    def set_event_handler(self, handler: EventHandler | None) -> None:
        """Call `handler(uuid, power_state)` on the event loop for every power change."""
        self._handler = handler

    @contextlib.contextmanager
    def watch(self, uuid: str, states: Collection[int]) -> Iterator[asyncio.Future[int]]:
        """A future resolved by the first event that puts guest `uuid` in one of `states`.

        Enter it before making the change, so the event cannot come first.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiter = (states, future)
        self._waiters[uuid].append(waiter)
        try:
            yield future
        finally:
            self._waiters[uuid].remove(waiter)
            if not self._waiters[uuid]:
                del self._waiters[uuid]
            future.cancel()

    def _on_lifecycle(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        """libvirt's callback, in libvirt's event thread: pass the change to the loop."""
        state = event_power_state(event, detail)
        loop = self._loop
        if state is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(self._deliver, dom.UUIDString(), state)

    def _deliver(self, uuid: str, state: int) -> None:
        for states, future in self._waiters.get(uuid, ()):
            if state in states and not future.done():
                future.set_result(state)
        if self._handler is not None:
            try:
                self._handler(uuid, state)
            except Exception:
                log.exception("libvirt.event_handler_failed", instance_uuid=uuid, state=state)
