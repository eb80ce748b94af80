"""What the library API returns: servers as their users see them."""

from __future__ import annotations

import datetime

import attrs

from nova_lite import objects
from nova_lite.compute.status import status_from_state

__all__ = ["Server"]


@attrs.frozen(kw_only=True)
class Server:
    """A server as the API shows it: identity, status, placement and addresses."""

    id: str
    name: str
    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    project_id: str
    user_id: str
    flavor: str
    image: str | None
    host: str | None
    addresses: tuple[dict[str, str], ...]
    created: datetime.datetime
    launched_at: datetime.datetime | None
    locked: bool
    fault: objects.InstanceFault | None

    @property
    def ip(self) -> str | None:
        """The first fixed IP address, if any."""
        return self.addresses[0].get("addr") if self.addresses else None

    @classmethod
    def from_instance(cls, instance: objects.Instance, *, show_host: bool) -> Server:
        """The view of `instance`; the host is shown to admins only, as in Nova."""
        return cls(
            id=instance.uuid,
            name=instance.display_name,
            status=status_from_state(instance.vm_state, instance.task_state),
            vm_state=instance.vm_state,
            task_state=instance.task_state,
            power_state=instance.power_state,
            project_id=instance.project_id,
            user_id=instance.user_id,
            flavor=instance.flavor.name,
            image=instance.image_ref,
            host=instance.host if show_host else None,
            addresses=instance.addresses,
            created=instance.created_at,
            launched_at=instance.launched_at,
            locked=instance.locked,
            fault=instance.fault,
        )
