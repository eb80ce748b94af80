"""The fake hypervisor driver: guests, power transitions, failure injection."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import attrs
import pytest

from drivers.fake import OPERATIONS, FakeDriver
from nova_lite import objects
from nova_lite.compute.power_state import CRASHED, PAUSED, RUNNING, SHUTDOWN, SUSPENDED
from nova_lite.config import Config, FakeDriverConfig
from nova_lite.exceptions import ConfigError, HypervisorError, InstanceNotFound, Invalid
from nova_lite.loader import load_plugin
from nova_lite.virt.driver import ComputeDriver, HostResources

SMALL = objects.Flavor(flavorid="1", name="m1.small", vcpus=1, memory_mb=2048, root_gb=20)
LARGE = objects.Flavor(flavorid="2", name="m1.large", vcpus=4, memory_mb=8192, root_gb=80)
PORT = objects.Port(
    id="port-1",
    network_id="net-1",
    mac_address="fa:16:3e:00:00:01",
    fixed_ips=({"subnet_id": "sub-1", "ip_address": "10.0.0.5"},),
)
VOLUME = objects.Volume(id="vol-1", name="data", size=1, status="in-use")


def make_instance(name: str = "vm-1") -> objects.Instance:
    return objects.Instance(
        uuid=str(uuid.uuid4()),
        display_name=name,
        project_id="p1",
        user_id="u1",
        flavor=SMALL,
        image_ref="img-1",
        vm_state="building",
    )


async def spawned(driver: FakeDriver, name: str = "vm-1") -> objects.Instance:
    instance = make_instance(name)
    await driver.spawn(instance, None, None, [PORT], [])
    return instance


async def state_of(driver: FakeDriver, instance: objects.Instance) -> int:
    return (await driver.get_info(instance)).state


async def test_spawn_then_destroy() -> None:
    """Spawn makes a running guest with the flavor's size; destroy removes it, twice safely."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    assert await driver.list_instances() == [instance.uuid]
    info = await driver.get_info(instance)
    assert (info.state, info.vcpus, info.memory_mb) == (RUNNING, 1, 2048)
    await driver.destroy(instance)
    await driver.destroy(instance)
    assert await driver.list_instances() == []
    with pytest.raises(InstanceNotFound, match=instance.uuid):
        await driver.get_info(instance)


async def test_spawn_writes_boot_lines_to_the_console() -> None:
    """The console shows the boot, the NICs with MAC and IP, volumes and a login prompt."""
    driver = FakeDriver(host="h1", clock=lambda: 100.0)
    instance = make_instance("web")
    image = objects.Image(id="img-1", name="cirros")
    await driver.spawn(instance, image, None, [PORT], [VOLUME])
    console = await driver.get_console_output(instance)
    assert "Booting web" in console and "from image cirros (img-1)" in console
    assert "eth0 fa:16:3e:00:00:01 10.0.0.5" in console
    assert "/dev/vdb is volume vol-1" in console
    assert console.endswith("web login:\n")
    assert console.startswith("[    0.000000] ")
    assert driver.guests[instance.uuid].volumes == {"vol-1": "/dev/vdb"}


async def test_spawn_records_each_ports_security_groups() -> None:
    """The guest records the groups each port was plugged with (a record: nothing enforced)."""
    driver = FakeDriver(host="h1")
    instance = make_instance()
    secured = attrs.evolve(PORT, security_groups=("sg-web", "sg-ssh"))
    plain = attrs.evolve(PORT, id="port-2", mac_address="fa:16:3e:00:00:02")
    await driver.spawn(instance, None, None, [secured, plain], [])
    assert driver.guests[instance.uuid].security_groups == {
        "port-1": ("sg-web", "sg-ssh"),
        "port-2": (),
    }


async def test_kept_guests_outlive_their_driver(tmp_path: Path) -> None:
    """With persist_guests, a new driver on the same state finds the guests in their state."""
    config = Config.load(environ={}, state_path=str(tmp_path), fake_driver={"persist_guests": True})
    first = FakeDriver.from_config(config, "h1")
    kept, gone = await spawned(first, "kept"), await spawned(first, "gone")
    await first.pause(kept)
    await first.destroy(gone)

    second = FakeDriver.from_config(config, "h1")  # the compute process, restarted

    assert await second.list_instances() == [kept.uuid]
    assert await state_of(second, kept) == PAUSED
    assert await FakeDriver.from_config(config, "h2").list_instances() == []


async def test_spawning_an_existing_guest_fails() -> None:
    """A second spawn of the same uuid is refused instead of replacing the guest."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    with pytest.raises(HypervisorError, match="already exists"):
        await driver.spawn(instance, None, None, [], [])


async def test_available_resource_reports_the_configured_capacity() -> None:
    """The host's capacity comes from [fake_driver]; the hypervisor is 'fake' on the host."""
    config = FakeDriverConfig(vcpus=8, memory_mb=4096, local_gb=100)
    driver = FakeDriver(host="h7", config=config)
    assert await driver.get_available_resource() == HostResources(
        vcpus=8, memory_mb=4096, local_gb=100, hypervisor_type="fake", hypervisor_hostname="h7"
    )


def test_from_config_and_loader_build_the_fake_driver() -> None:
    """The loader's 'fake' name is FakeDriver, built for one host from the config."""
    config = Config.load(environ={}, fake_driver={"vcpus": 3})
    assert load_plugin("driver", "fake") is FakeDriver
    driver = FakeDriver.from_config(config, "h9")
    assert isinstance(driver, ComputeDriver)
    assert (driver.host, driver.config.vcpus, repr(driver)) == ("h9", 3, "<FakeDriver h9 guests=0>")


ACTIONS = {
    "pause": lambda d, i: d.pause(i),
    "unpause": lambda d, i: d.unpause(i),
    "suspend": lambda d, i: d.suspend(i),
    "resume": lambda d, i: d.resume(i),
    "power_off": lambda d, i: d.power_off(i),
    "power_on": lambda d, i: d.power_on(i),
    "soft_reboot": lambda d, i: d.reboot(i, hard=False),
    "hard_reboot": lambda d, i: d.reboot(i, hard=True),
    "rescue": lambda d, i: d.rescue(i),
}


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (RUNNING, "pause", PAUSED),
        (PAUSED, "unpause", RUNNING),
        (RUNNING, "suspend", SUSPENDED),
        (PAUSED, "suspend", SUSPENDED),
        (SUSPENDED, "resume", RUNNING),
        (RUNNING, "power_off", SHUTDOWN),
        (PAUSED, "power_off", SHUTDOWN),
        (SHUTDOWN, "power_off", SHUTDOWN),
        (SHUTDOWN, "power_on", RUNNING),
        (CRASHED, "power_on", RUNNING),
        (RUNNING, "soft_reboot", RUNNING),
        (PAUSED, "hard_reboot", RUNNING),
        (SUSPENDED, "hard_reboot", RUNNING),
        (SHUTDOWN, "hard_reboot", RUNNING),
        (SHUTDOWN, "rescue", RUNNING),
    ],
)
async def test_power_transitions(start: int, action: str, end: int) -> None:
    """Each action allowed in a power state leaves the guest in the hypervisor's next state."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    driver.inject_power_state(instance.uuid, start)
    await ACTIONS[action](driver, instance)
    assert await state_of(driver, instance) == end


@pytest.mark.parametrize(
    ("start", "action", "state_name"),
    [
        (PAUSED, "pause", "paused"),
        (SHUTDOWN, "pause", "shutdown"),
        (RUNNING, "unpause", "running"),
        (SHUTDOWN, "suspend", "shutdown"),
        (RUNNING, "resume", "running"),
        (RUNNING, "power_on", "running"),
        (SUSPENDED, "power_off", "suspended"),
        (SHUTDOWN, "soft_reboot", "shutdown"),
        (SUSPENDED, "rescue", "suspended"),
    ],
)
async def test_invalid_power_transitions_name_the_state(
    start: int, action: str, state_name: str
) -> None:
    """An action the guest's state does not allow raises HypervisorError and changes nothing."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    driver.inject_power_state(instance.uuid, start)
    with pytest.raises(HypervisorError, match=f"it is {state_name}"):
        await ACTIONS[action](driver, instance)
    assert await state_of(driver, instance) == start


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_actions_on_an_unknown_guest_raise_instance_not_found(action: str) -> None:
    """Every action on a guest the hypervisor lacks raises InstanceNotFound."""
    with pytest.raises(InstanceNotFound):
        await ACTIONS[action](FakeDriver(host="h1"), make_instance())


async def test_spawn_fails_on_configured_hosts() -> None:
    """Hosts listed in fail_spawn_hosts refuse every spawn; other hosts do not."""
    config = FakeDriverConfig(fail_spawn_hosts=("bad-host",))
    bad, good = FakeDriver(host="bad-host", config=config), FakeDriver(host="ok", config=config)
    with pytest.raises(HypervisorError, match="Injected spawn failure on host bad-host"):
        await spawned(bad)
    assert await bad.list_instances() == []
    await spawned(good)


async def test_spawn_fails_for_names_matching_the_pattern() -> None:
    """Instances whose display name matches fail_spawn_names fail to spawn."""
    driver = FakeDriver(host="h1", config=FakeDriverConfig(fail_spawn_names="^doomed-"))
    with pytest.raises(HypervisorError, match="Injected spawn failure for instance 'doomed-1'"):
        await spawned(driver, "doomed-1")
    await spawned(driver, "fine-doomed-1")
    assert len(await driver.list_instances()) == 1


def test_a_bad_name_pattern_is_a_config_error() -> None:
    """An invalid fail_spawn_names regular expression is reported when the driver is built."""
    with pytest.raises(ConfigError, match=r"fail_spawn_names = '\('"):
        FakeDriver(host="h1", config=FakeDriverConfig(fail_spawn_names="("))


async def test_fail_next_fails_only_the_next_call() -> None:
    """fail_next makes exactly one call of that operation fail, leaving the guest as it was."""
    driver = FakeDriver(host="h1")
    driver.fail_next("spawn")
    with pytest.raises(HypervisorError, match="Injected failure of spawn on host h1"):
        await spawned(driver)
    instance = await spawned(driver)
    driver.fail_next("pause")
    with pytest.raises(HypervisorError, match="Injected failure of pause"):
        await driver.pause(instance)
    assert await state_of(driver, instance) == RUNNING
    await driver.pause(instance)
    assert await state_of(driver, instance) == PAUSED


def test_fail_next_refuses_unknown_operations() -> None:
    """fail_next names the known operations when given one the driver does not have."""
    with pytest.raises(Invalid, match="'explode' is not a FakeDriver operation"):
        FakeDriver(host="h1").fail_next("explode")
    assert "spawn" in OPERATIONS and "set_admin_password" in OPERATIONS


async def test_two_drivers_are_independent() -> None:
    """Guests and injected failures of one fake host never show on another."""
    first, second = FakeDriver(host="h1"), FakeDriver(host="h2")
    instance = await spawned(first)
    assert await second.list_instances() == []
    with pytest.raises(InstanceNotFound, match="hypervisor h2"):
        await second.get_info(instance)
    first.fail_next("spawn")
    await second.spawn(instance, None, None, [], [])
    assert await second.list_instances() == [instance.uuid]


async def test_inject_power_state_simulates_a_guest_shutting_down() -> None:
    """A state injected from inside is what get_info reports next."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    driver.inject_power_state(instance.uuid, SHUTDOWN)
    assert await state_of(driver, instance) == SHUTDOWN
    with pytest.raises(Invalid, match="99"):
        driver.inject_power_state(instance.uuid, 99)
    with pytest.raises(InstanceNotFound):
        driver.inject_power_state("nope", SHUTDOWN)


async def test_rescue_and_unrescue() -> None:
    """Rescue boots a guest in rescue mode once; unrescue leaves it, once."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    await driver.rescue(instance)
    assert driver.guests[instance.uuid].rescued
    with pytest.raises(HypervisorError, match="already in rescue mode"):
        await driver.rescue(instance)
    await driver.unrescue(instance)
    assert not driver.guests[instance.uuid].rescued
    assert await state_of(driver, instance) == RUNNING
    with pytest.raises(HypervisorError, match="not in rescue mode"):
        await driver.unrescue(instance)


async def test_snapshot_is_deterministic_per_instance() -> None:
    """A snapshot returns the same fake disk bytes for one guest and different ones for two."""
    driver = FakeDriver(host="h1")
    one, two = await spawned(driver), await spawned(driver, "vm-2")
    assert await driver.snapshot(one) == await driver.snapshot(one)
    assert await driver.snapshot(one) == b"fake-disk:" + one.uuid.encode()
    assert await driver.snapshot(one) != await driver.snapshot(two)


async def test_set_admin_password_needs_a_running_guest_and_keeps_no_secret() -> None:
    """Setting the password works on a running guest, records only that it ran."""
    driver = FakeDriver(host="h1")
    assert driver.capabilities["supports_set_admin_password"]
    instance = await spawned(driver)
    await driver.set_admin_password(instance, "s3cret-pw")
    guest = driver.guests[instance.uuid]
    assert guest.password_changes == 1 and "s3cret-pw" not in repr(guest)
    await driver.pause(instance)
    with pytest.raises(HypervisorError, match="it is paused"):
        await driver.set_admin_password(instance, "other")


async def test_attach_and_detach_volume() -> None:
    """A volume attaches once at a free mountpoint and detaches once."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    await driver.attach_volume(instance, VOLUME, "/dev/vdb")
    assert driver.guests[instance.uuid].volumes == {"vol-1": "/dev/vdb"}
    other = objects.Volume(id="vol-2", name="", size=1)
    with pytest.raises(HypervisorError, match="already in use"):
        await driver.attach_volume(instance, other, "/dev/vdb")
    await driver.detach_volume(instance, VOLUME)
    assert driver.guests[instance.uuid].volumes == {}
    with pytest.raises(HypervisorError, match="not attached"):
        await driver.detach_volume(instance, VOLUME)
    await driver.suspend(instance)
    with pytest.raises(HypervisorError, match="it is suspended"):
        await driver.attach_volume(instance, VOLUME, "/dev/vdc")


async def test_resize_then_revert_or_confirm() -> None:
    """Resize gives the guest the new size; a revert restores the old; confirm forgets it."""
    driver = FakeDriver(host="h1")
    instance = await spawned(driver)
    await driver.resize(instance, LARGE)
    assert (await driver.get_info(instance)).vcpus == 4
    await driver.finish_revert_resize(instance)
    info = await driver.get_info(instance)
    assert (info.vcpus, info.memory_mb) == (1, 2048)
    with pytest.raises(HypervisorError, match="no resize to revert"):
        await driver.finish_revert_resize(instance)
    await driver.resize(instance, LARGE)
    await driver.confirm_resize(instance)
    assert driver.guests[instance.uuid].previous_flavor is None
    assert (await driver.get_info(instance)).memory_mb == 8192


async def test_spawn_waits_for_the_spawn_delay() -> None:
    """With a spawn delay the guest appears only when spawn has finished."""
    driver = FakeDriver(host="h1", config=FakeDriverConfig(spawn_delay=0.01))
    instance = make_instance()
    task = asyncio.create_task(driver.spawn(instance, None, None, [], []))
    await asyncio.sleep(0)  # let the spawn start: it is now in its simulated latency
    assert await driver.list_instances() == []
    await task
    assert await driver.list_instances() == [instance.uuid]


@pytest.mark.parametrize("state", [{}, {"uuid": 7}, {"booted_at": "never"}])
async def test_a_guest_handed_over_in_a_shape_not_a_guests_is_a_hypervisor_error(
    state: dict[str, object],
) -> None:
    """A live migration's destination refuses a state it cannot read with the error the
    compute gives its claim back on (it was a KeyError, and the claim leaked)."""
    driver = FakeDriver(host="h2")
    instance = make_instance()
    with pytest.raises(HypervisorError, match=f"handed over for {instance.uuid}"):
        await driver.post_live_migration_at_destination(instance, state)
    assert await driver.list_instances() == []
