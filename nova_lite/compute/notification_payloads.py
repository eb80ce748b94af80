"""The payload of every ``instance.*`` notification, built from an `Instance`.

It lives with compute, not in `nova_lite.notifications`, because it derives the API
status from compute's states: the notifier below it only publishes mappings and
knows nothing of instances (as Nova keeps its payload objects apart from the
notifier in ``nova/notifications/objects``).
"""

from __future__ import annotations

from typing import Any

from nova_lite import objects
from nova_lite.compute.status import status_from_state

__all__ = ["instance_payload"]


def instance_payload(instance: objects.Instance, **extra: Any) -> dict[str, Any]:
    """The fields every ``instance.*`` notification carries."""
    payload: dict[str, Any] = {
        "uuid": instance.uuid,
        "display_name": instance.display_name,
        "project_id": instance.project_id,
        "user_id": instance.user_id,
        "host": instance.host,
        "vm_state": instance.vm_state,
        "task_state": instance.task_state,
        "power_state": instance.power_state,
        "status": status_from_state(instance.vm_state, instance.task_state),
        "flavor": instance.flavor.name,
    }
    if instance.fault is not None:
        payload["fault"] = {"code": instance.fault.code, "message": instance.fault.message}
    payload.update(extra)
    return payload
