"""What several compute parts do to an instance's guest: read and cut its power,
list its volumes, and spawn it again on this host.

The action walk, the power-state sync, the power actions, shelve and resize all read
a guest's power state and power it off the same way; rebuild, unshelve and resize
all spawn an existing instance's guest again from its image, its ports and its
attached volumes. These are written once here, over the driver contract.
"""

from __future__ import annotations

from nova_lite import objects
from nova_lite.compute import power_state
from nova_lite.compute.image_cache import ImageCache
from nova_lite.context import RequestContext
from nova_lite.exceptions import InstanceNotFound, NovaLiteError
from nova_lite.network.rpcapi import NetworkAPI
from nova_lite.virt.driver import ComputeDriver
from nova_lite.volume.rpcapi import VolumeAPI

__all__ = ["GuestSpawner", "attached_volumes", "power_off", "power_state_of"]


async def power_state_of(driver: ComputeDriver, instance: objects.Instance) -> int:
    """The guest's power state as the hypervisor reports it (NOSTATE if it has none)."""
    try:
        return (await driver.get_info(instance)).state
    except InstanceNotFound:
        return power_state.NOSTATE


async def power_off(driver: ComputeDriver, instance: objects.Instance) -> None:
    """Power off unless the hypervisor already has the guest off.

    A suspended guest is resumed first (its saved memory is then dropped by the
    shutdown): hypervisors only shut down a guest that runs or is paused.
    """
    state = await power_state_of(driver, instance)
    if state == power_state.SUSPENDED:
        await driver.resume(instance)
        state = power_state.RUNNING
    if state not in (power_state.SHUTDOWN, power_state.NOSTATE):
        await driver.power_off(instance)


async def attached_volumes(
    volume: VolumeAPI, ctx: RequestContext, instance: objects.Instance
) -> list[objects.Volume]:
    """The volumes attached to the instance (none if the volume service cannot say).

    Asked by the server (volume 1.1's ``attached_to``): the volume service finds
    them through its attachments' index, not by reading every volume of the cloud
    for each delete. The filter here stays, for what a reply may still carry.
    """
    try:
        volumes = await volume.list(ctx, attached_to=instance.uuid)
    except NovaLiteError:
        return []
    return [v for v in volumes if v.attached_to == instance.uuid]


class GuestSpawner:
    """Spawns an existing instance's guest on one host from what it already has."""

    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        images: ImageCache,
        network: NetworkAPI,
        volume: VolumeAPI,
    ) -> None:
        self.host = host
        self.driver = driver
        self.images = images
        self.network = network
        self.volume = volume

    def __repr__(self) -> str:
        return f"<GuestSpawner {self.host}>"

    async def respawn(
        self,
        ctx: RequestContext,
        instance: objects.Instance,
        *,
        image_of: objects.Instance | None = None,
        bind: bool = True,
    ) -> None:
        """Spawn `instance` here with its ports and attached volumes.

        The image is that of `image_of` (default: the instance itself), so an
        unshelve boots from the shelved snapshot; with `bind` the ports are then
        bound to this host (a rebuild keeps them where they are).
        """
        image, path = await self.images.fetch(ctx, image_of or instance)
        ports = await self.network.list_ports(ctx, device_id=instance.uuid)
        volumes = await attached_volumes(self.volume, ctx, instance)
        await self.driver.spawn(instance, image, path, ports, volumes)
        if bind:
            for port in ports:
                await self.network.bind_port(ctx, port.id, self.host)
