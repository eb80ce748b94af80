"""The fake hypervisor (Nova's ``nova/virt/fake.py``): guests that live in a dict.

Each `FakeDriver` is one host's hypervisor and holds no global state, so a test or a
demo can run many fake hosts in one process. Power transitions follow a real
hypervisor's rules (only a running guest can pause, only a paused one unpause, ...)
and refuse the others with `HypervisorError` naming the guest's state. Failures can
be injected by host or display-name pattern (``[fake_driver]`` settings) or, in
tests, for the next call of any one operation (`fail_next`); `inject_power_state`
changes a guest "from inside", as a guest OS shutting itself down would.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs
import cattrs
import orjson

from nova_lite import clock as clock_module
from nova_lite import objects
from nova_lite.compute import power_state
from nova_lite.compute.power_state import CRASHED, PAUSED, RUNNING, SHUTDOWN, SUSPENDED
from nova_lite.config import Config, FakeDriverConfig
from nova_lite.exceptions import ConfigError, HypervisorError, InstanceNotFound, Invalid
from nova_lite.virt.driver import ComputeDriver, HostResources, InstanceInfo

__all__ = ["OPERATIONS", "FakeDriver", "FakeGuest"]

Clock = Callable[[], float]

ANY_STATE = frozenset(power_state.STATE_MAP)
CONSOLE_LINES = 200  # how much of each guest's console the fake keeps

# operation: (power states it may start from, the state it leaves the guest in)
TRANSITIONS: Mapping[str, tuple[frozenset[int], int]] = {
    "pause": (frozenset({RUNNING}), PAUSED),
    "unpause": (frozenset({PAUSED}), RUNNING),
    "suspend": (frozenset({RUNNING, PAUSED}), SUSPENDED),
    "resume": (frozenset({SUSPENDED}), RUNNING),
    "power_off": (frozenset({RUNNING, PAUSED, CRASHED, SHUTDOWN}), SHUTDOWN),
    "power_on": (frozenset({SHUTDOWN, CRASHED}), RUNNING),
    "soft reboot": (frozenset({RUNNING}), RUNNING),
    "hard reboot": (ANY_STATE, RUNNING),
    "rescue": (frozenset({RUNNING, SHUTDOWN, CRASHED}), RUNNING),
}
PASSWORD_STATES = frozenset({RUNNING})
VOLUME_STATES = frozenset({RUNNING, PAUSED, SHUTDOWN})
RESIZE_STATES = frozenset({RUNNING, SHUTDOWN})

# fmt: off
OPERATIONS = (  # the methods `fail_next` can make fail
    "spawn", "destroy", "get_info", "reboot", "power_off", "power_on", "pause", "unpause",
    "suspend", "resume", "get_console_output", "rescue", "unrescue", "snapshot",
    "set_admin_password", "attach_volume", "detach_volume", "resize",
    "finish_revert_resize", "confirm_resize", "live_migration",
    "post_live_migration_at_destination",
)
# fmt: on


@attrs.frozen(kw_only=True)
class FakeGuest:
    """One guest as the fake hypervisor holds it (changes are made with ``evolve``)."""

    uuid: str
    name: str
    state: int  # a nova_lite.compute.power_state value
    flavor: objects.Flavor
    vcpus: int
    memory_mb: int
    booted_at: float
    console: tuple[str, ...] = ()
    volumes: Mapping[str, str] = attrs.field(factory=dict)  # volume id -> mountpoint
    rescued: bool = False
    previous_flavor: objects.Flavor | None = None  # kept by resize for a revert
    password_changes: int = 0  # set_admin_password records that it ran, never the secret
    key_name: str | None = None  # the key pair the guest was given (its public key below)
    key_data: str | None = None
    # Each port's security groups as the guest was plugged with them (port id -> group
    # ids): recorded, not enforced; a later change on the port is the network's record.
    security_groups: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def state_name(self) -> str:
        return power_state.STATE_MAP.get(self.state, f"state {self.state:#x}")


class _Kept(dict[str, FakeGuest]):
    """A fake hypervisor's guests, written to a file after every change and read at start."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.exists():
            loaded = _GUESTS.structure(orjson.loads(path.read_bytes()), dict[str, FakeGuest])
            super().update(loaded)

    def __setitem__(self, uuid: str, guest: FakeGuest) -> None:
        super().__setitem__(uuid, guest)
        self._save()

    def __delitem__(self, uuid: str) -> None:
        super().__delitem__(uuid)
        self._save()

    def pop(self, uuid: str, *default: Any) -> Any:
        found = super().pop(uuid, *default)
        self._save()
        return found

    def _save(self) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_bytes(orjson.dumps(_GUESTS.unstructure(dict(self))))
        os.replace(partial, self.path)  # never half written, even if the process dies


_GUESTS = objects.serializer().converter


class FakeDriver(ComputeDriver):
    """A hypervisor for one host whose guests are records in `guests` (uuid -> FakeGuest)."""

    capabilities: dict[str, bool] = {"supports_set_admin_password": True}

    def __init__(
        self,
        *,
        host: str,
        config: FakeDriverConfig | None = None,
        clock: Clock | None = None,
        guests_file: Path | None = None,
    ) -> None:
        self.host = host
        self.config = config or FakeDriverConfig()
        self.clock = clock or clock_module.monotonic
        self.guests: dict[str, FakeGuest] = {} if guests_file is None else _Kept(guests_file)
        self._fail_next: Counter[str] = Counter()
        try:
            self._fail_names = re.compile(self.config.fail_spawn_names or r"(?!)")
        except re.error as exc:
            raise ConfigError(
                f"[fake_driver] fail_spawn_names = {self.config.fail_spawn_names!r} is not a "
                f"valid regular expression: {exc}."
            ) from None

    @classmethod
    def from_config(cls, config: Config, host: str) -> Self:
        """The fake hypervisor of `host`, set up by the ``[fake_driver]`` section.

        With ``persist_guests``, its guests are kept in
        ``<state_path>/fake-hypervisors/<host>.json`` and outlive the compute process, as
        a real hypervisor's guests outlive nova-compute (a test that kills the process
        finds them again when it restarts).
        """
        kept = config.service_dir("fake-hypervisors") / f"{host}.json"
        return cls(
            host=host,
            config=config.fake_driver,
            guests_file=kept if config.fake_driver.persist_guests else None,
        )

    def __repr__(self) -> str:
        return f"<FakeDriver {self.host} guests={len(self.guests)}>"

    # -- test helpers -------------------------------------------------------

    def fail_next(self, operation: str) -> None:
        """Make the next call of `operation` (a method name) raise HypervisorError."""
        if operation not in OPERATIONS:
            raise Invalid(
                f"operation {operation!r} is not a FakeDriver operation; "
                f"known: {', '.join(OPERATIONS)}."
            )
        self._fail_next[operation] += 1

    def inject_power_state(self, uuid: str, state: int) -> None:
        """Change a guest's power state as if from inside (a guest OS shutting down)."""
        if state not in power_state.STATE_MAP:
            raise Invalid(f"state {state!r} is not a power state; known: {power_state.STATE_MAP}.")
        guest = self._guest(uuid)
        self._update(guest, state=state, note=f"guest is now {power_state.STATE_MAP[state]}")

    # -- the ComputeDriver contract ------------------------------------------

    async def get_available_resource(self) -> HostResources:
        return HostResources(
            vcpus=self.config.vcpus,
            memory_mb=self.config.memory_mb,
            local_gb=self.config.local_gb,
            hypervisor_type="fake",
            hypervisor_hostname=self.host,
        )

    async def list_instances(self) -> list[str]:
        return list(self.guests)

    async def get_info(self, instance: objects.Instance) -> InstanceInfo:
        self._maybe_fail("get_info")
        guest = self._guest(instance.uuid)
        return InstanceInfo(state=guest.state, memory_mb=guest.memory_mb, vcpus=guest.vcpus)

    async def spawn(
        self,
        instance: objects.Instance,
        image: objects.Image | None,
        image_path: Path | None,
        network_info: Sequence[objects.Port],
        volumes: Sequence[objects.Volume],
    ) -> None:
        await self._begin("spawn", self.config.spawn_delay)
        self._check_spawn(instance)
        disks = {v.id: v.mountpoint or _device(i + 1) for i, v in enumerate(volumes)}
        guest = FakeGuest(
            uuid=instance.uuid,
            name=instance.display_name,
            state=RUNNING,
            flavor=instance.flavor,
            vcpus=instance.flavor.vcpus,
            memory_mb=instance.flavor.memory_mb,
            booted_at=self.clock(),
            volumes=disks,
            key_name=instance.key_name,
            key_data=instance.key_data,
            security_groups={port.id: tuple(port.security_groups) for port in network_info},
        )
        self.guests[instance.uuid] = guest
        self._log(guest, *_boot_lines(guest, image, network_info, disks))

    async def destroy(self, instance: objects.Instance) -> None:
        await self._begin("destroy")
        self.guests.pop(instance.uuid, None)

    async def reboot(self, instance: objects.Instance, *, hard: bool) -> None:
        kind = "hard reboot" if hard else "soft reboot"
        note = f"{kind}: restarting system"
        await self._transition(kind, instance, "reboot", note=note, booted_at=self.clock())

    async def power_off(self, instance: objects.Instance) -> None:
        await self._transition("power_off", instance, note="reboot: Power down")

    async def power_on(self, instance: objects.Instance) -> None:
        await self._transition("power_on", instance, note="login:", booted_at=self.clock())

    async def pause(self, instance: objects.Instance) -> None:
        await self._transition("pause", instance)

    async def unpause(self, instance: objects.Instance) -> None:
        await self._transition("unpause", instance)

    async def suspend(self, instance: objects.Instance) -> None:
        await self._transition("suspend", instance, note="PM: suspending system")

    async def resume(self, instance: objects.Instance) -> None:
        await self._transition("resume", instance, note="PM: resumed")

    async def get_console_output(self, instance: objects.Instance) -> str:
        self._maybe_fail("get_console_output")
        return "".join(f"{line}\n" for line in self._guest(instance.uuid).console)

    # -- lifecycle extras ---------------------------------------------------

    async def rescue(self, instance: objects.Instance, image_path: Path | None = None) -> None:
        """Boot the guest from a rescue image, its own disk attached as a second disk."""
        allowed, new_state = TRANSITIONS["rescue"]
        guest = await self._in_states("rescue", instance, allowed)
        if guest.rescued:
            raise HypervisorError(f"Instance {instance.uuid} is already in rescue mode.")
        changes = {"state": new_state, "rescued": True, "booted_at": self.clock()}
        self._update(guest, note="rescue: booted from the rescue image", **changes)

    async def unrescue(self, instance: objects.Instance) -> None:
        """Leave rescue mode: boot the guest from its own disk again."""
        await self._begin("unrescue")
        guest = self._guest(instance.uuid)
        if not guest.rescued:
            raise HypervisorError(f"Instance {instance.uuid} is not in rescue mode.")
        self._update(guest, state=RUNNING, rescued=False, booted_at=self.clock(), note="unrescue")

    async def snapshot(self, instance: objects.Instance) -> bytes:
        """The guest's disk contents: fake, but the same bytes every time for one guest."""
        await self._begin("snapshot")
        return b"fake-disk:" + self._guest(instance.uuid).uuid.encode()

    async def set_admin_password(self, instance: objects.Instance, password: str) -> None:
        """Set the guest's admin password through its (fake) agent; needs a running guest."""
        guest = await self._in_states("set_admin_password", instance, PASSWORD_STATES)
        if not password:
            raise HypervisorError("The new admin password must not be empty.")
        self._update(guest, password_changes=guest.password_changes + 1, note="agent: password")

    async def attach_volume(
        self, instance: objects.Instance, volume: objects.Volume, mountpoint: str
    ) -> None:
        """Plug a volume into the guest at `mountpoint`."""
        guest = await self._in_states("attach_volume", instance, VOLUME_STATES)
        if volume.id in guest.volumes or mountpoint in guest.volumes.values():
            raise HypervisorError(
                f"Cannot attach volume {volume.id} at {mountpoint}: the volume or the "
                f"mountpoint is already in use on instance {instance.uuid}."
            )
        disks = {**guest.volumes, volume.id: mountpoint}
        self._update(guest, volumes=disks, note=f"virtio_blk: {mountpoint} attached")

    async def detach_volume(self, instance: objects.Instance, volume: objects.Volume) -> None:
        """Unplug a volume from the guest."""
        await self._begin("detach_volume")
        guest = self._guest(instance.uuid)
        if volume.id not in guest.volumes:
            raise HypervisorError(
                f"Volume {volume.id} is not attached to instance {instance.uuid}."
            )
        disks = {k: v for k, v in guest.volumes.items() if k != volume.id}
        self._update(guest, volumes=disks, note=f"virtio_blk: {guest.volumes[volume.id]} gone")

    async def resize(self, instance: objects.Instance, flavor: objects.Flavor) -> None:
        """Give the guest `flavor`'s size, keeping the old one for a revert."""
        guest = await self._in_states("resize", instance, RESIZE_STATES)
        self._set_flavor(guest, flavor, previous=guest.flavor, note="resized to")

    async def finish_revert_resize(self, instance: objects.Instance) -> None:
        """Give the guest back the size it had before `resize`."""
        await self._begin("finish_revert_resize")
        guest = self._guest(instance.uuid)
        if guest.previous_flavor is None:
            raise HypervisorError(f"Instance {instance.uuid} has no resize to revert.")
        self._set_flavor(guest, guest.previous_flavor, previous=None, note="resize reverted to")

    async def confirm_resize(self, instance: objects.Instance) -> None:
        """Forget the pre-resize size: the resize can no longer be reverted."""
        await self._begin("confirm_resize")
        guest = self._guest(instance.uuid)
        if guest.previous_flavor is None:
            raise HypervisorError(f"Instance {instance.uuid} has no resize to confirm.")
        self._update(guest, previous_flavor=None)

    # -- internals ----------------------------------------------------------

    async def live_migration(self, instance: objects.Instance, dest: str) -> dict[str, Any]:
        """The guest as it is, power state and all (it runs here until destroyed)."""
        await self._begin("live_migration")
        guest = self._guest(instance.uuid)
        self._log(guest, f"live migration to {dest}: memory copied, switching over")
        state: dict[str, Any] = _GUESTS.unstructure(self.guests[instance.uuid])
        return state

    async def post_live_migration_at_destination(
        self, instance: objects.Instance, state: dict[str, Any]
    ) -> None:
        """The guest the source handed over now runs here, as it was there."""
        await self._begin("post_live_migration_at_destination")
        try:
            guest = _GUESTS.structure(state, FakeGuest)
        except (KeyError, TypeError, ValueError, cattrs.BaseValidationError) as exc:
            # Whatever the caller sent: a HypervisorError, so the compute gives back
            # the claim it made for the guest instead of leaking it.
            raise HypervisorError(
                f"The guest state handed over for {instance.uuid} is not a fake guest's"
                f" ({type(exc).__name__}: {exc})."
            ) from None
        if guest.uuid != instance.uuid:
            raise HypervisorError(f"The guest handed over is {guest.uuid}, not {instance.uuid}.")
        self.guests[instance.uuid] = guest
        self._log(guest, f"live migration: running on {self.host}")

    async def _begin(self, operation: str, delay: float | None = None) -> None:
        """Simulate the hypervisor's latency, then fail if a failure is injected."""
        delay = self.config.operation_delay if delay is None else delay
        if delay > 0:
            await asyncio.sleep(delay)
        self._maybe_fail(operation)

    def _maybe_fail(self, operation: str) -> None:
        if self._fail_next[operation] > 0:
            self._fail_next[operation] -= 1
            raise HypervisorError(f"Injected failure of {operation} on host {self.host}.")

    def _check_spawn(self, instance: objects.Instance) -> None:
        if self.host in self.config.fail_spawn_hosts:
            raise HypervisorError(
                f"Injected spawn failure on host {self.host} for instance {instance.uuid} "
                "([fake_driver] fail_spawn_hosts)."
            )
        if self._fail_names.search(instance.display_name):
            raise HypervisorError(
                f"Injected spawn failure for instance {instance.display_name!r} "
                f"({instance.uuid}): the name matches [fake_driver] fail_spawn_names "
                f"{self.config.fail_spawn_names!r}."
            )
        if instance.uuid in self.guests:
            raise HypervisorError(f"Instance {instance.uuid} already exists on {self.host}.")

    async def _in_states(
        self, operation: str, instance: objects.Instance, allowed: Collection[int]
    ) -> FakeGuest:
        """The guest, after the latency and injected failures, if its state allows it."""
        await self._begin(operation)
        guest = self._guest(instance.uuid)
        if guest.state not in allowed:
            names = " or ".join(sorted(power_state.STATE_MAP[s] for s in allowed))
            raise HypervisorError(
                f"Cannot {operation.replace('_', ' ')} instance {instance.uuid}: it is "
                f"{guest.state_name}, and {operation} needs it {names}.",
                state=guest.state,
            )
        return guest

    async def _transition(
        self,
        kind: str,
        instance: objects.Instance,
        operation: str = "",
        *,
        note: str = "",
        **changes: Any,
    ) -> None:
        """Move the guest along `TRANSITIONS[kind]`, applying `changes` too."""
        allowed, new_state = TRANSITIONS[kind]
        guest = await self._in_states(operation or kind, instance, allowed)
        self._update(guest, state=new_state, note=note or f"{kind}: done", **changes)

    def _set_flavor(
        self,
        guest: FakeGuest,
        flavor: objects.Flavor,
        *,
        previous: objects.Flavor | None,
        note: str,
    ) -> None:
        self._update(
            guest,
            flavor=flavor,
            vcpus=flavor.vcpus,
            memory_mb=flavor.memory_mb,
            previous_flavor=previous,
            note=f"{note} flavor {flavor.name}",
        )

    def _guest(self, uuid: str) -> FakeGuest:
        guest = self.guests.get(uuid)
        if guest is None:
            raise InstanceNotFound(
                f"Instance {uuid} could not be found on hypervisor {self.host}.",
                instance_id=uuid,
            )
        return guest

    def _update(self, guest: FakeGuest, *, note: str = "", **changes: Any) -> FakeGuest:
        guest = attrs.evolve(guest, **changes)
        self.guests[guest.uuid] = guest
        return self._log(guest, note) if note else guest

    def _log(self, guest: FakeGuest, *lines: str) -> FakeGuest:
        uptime = max(self.clock() - guest.booted_at, 0.0)
        stamped = tuple(f"[{uptime:12.6f}] {line}" for line in lines)
        guest = attrs.evolve(guest, console=(*guest.console, *stamped)[-CONSOLE_LINES:])
        self.guests[guest.uuid] = guest
        return guest


def _device(index: int) -> str:
    """The virtio disk name of the `index`-th disk after the root disk (1 -> /dev/vdb)."""
    return f"/dev/vd{chr(ord('a') + index)}"


def _boot_lines(
    guest: FakeGuest,
    image: objects.Image | None,
    ports: Sequence[objects.Port],
    disks: Mapping[str, str],
) -> list[str]:
    source = f"image {image.name} ({image.id})" if image is not None else "volume"
    lines = [
        "Linux version 6.1.0-fake (nova_lite fake hypervisor)",
        f"Booting {guest.name} ({guest.uuid}) from {source}",
        f"Memory: {guest.memory_mb}MB, CPUs: {guest.vcpus}",
    ]
    for i, port in enumerate(ports):
        ips = ",".join(ip["ip_address"] for ip in port.fixed_ips) or "no address"
        lines.append(f"cloud-init: eth{i} {port.mac_address} {ips}")
    lines += [f"virtio_blk: {mount} is volume {vid}" for vid, mount in disks.items()]
    lines.append(f"{guest.name} login:")
    return lines
