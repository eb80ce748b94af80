"""The volume manager: Cinder's volumes, snapshots, types and quotas, served over RPC.

The manager opens the service's database and composes the parts that carry its
endpoints, each given what it uses:

- `VolumeRecords` (``volumes.py``, with ``sources.py``): create, show, list, update,
  metadata, delete and force delete;
- `VolumeChanges` (``changes.py``): extend, retype, flags, image metadata, reset;
- `AttachmentStates` (``attachments.py``): reserve, attach, detach and their undos;
- `SnapshotRecords` (``snapshots.py``), `TypeRecords` (``types.py``),
  `TransferRecords` (``transfers.py``), `QosRecords` (``qos.py``), `MessageRecords`
  (``messages.py``), `BackupRecords` (``backups.py``) and `QuotaBook` (``quotas.py``);
- `GroupTypeRecords` (``group_types.py``), `GroupRecords` (``groups.py``) and
  `GroupSnapshotRecords` (``group_snapshots.py``): generic volume groups, their
  rows read by ``group_rows.py``;
- `ImageUploads` (``uploads.py``): a volume copied into a new image;
- `ServiceStatus` (below): what Cinder's os-services and availability zones show.

Every change is a compare-and-swap in one write transaction (`store.VolumeStore`);
when no row changes, the call raises `VolumeInvalidState` naming the status it
found, so of two racing attaches exactly one wins. There is no real storage behind
this service: sizes are recorded, and a new volume is available at once (or in
error, with a user message, when its type asks for another backend: ``backend.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

from nova_lite import objects
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.exceptions import NotFound
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.rpc.endpoint import endpoint
from nova_lite.service import Manager
from nova_lite.transport import Transport
from nova_lite.volume.attachments import AttachmentStates
from nova_lite.volume.backups import BackupRecords
from nova_lite.volume.changes import RESET_STATUSES, VolumeChanges
from nova_lite.volume.group_snapshots import GroupSnapshotRecords
from nova_lite.volume.group_types import GroupTypeRecords
from nova_lite.volume.groups import GroupRecords
from nova_lite.volume.messages import MessageRecords
from nova_lite.volume.qos import QosRecords
from nova_lite.volume.quotas import QuotaBook
from nova_lite.volume.schema import MIGRATIONS
from nova_lite.volume.snapshots import SnapshotRecords
from nova_lite.volume.store import VolumeStore
from nova_lite.volume.transfers import TransferRecords
from nova_lite.volume.types import TypeRecords
from nova_lite.volume.uploads import ImageUploads
from nova_lite.volume.volumes import VolumeRecords

__all__ = ["STATUSES", "ServiceStatus", "VolumeManager"]

#: The statuses a volume can have (what an administrator may reset it to, and more).
STATUSES = (*RESET_STATUSES, "uploading")


class ServiceStatus:
    """The volume service as Cinder's os-services shows it: host, zone, start, switches.

    It stands for Cinder's ``cinder-scheduler`` (on the host) and ``cinder-volume`` (on
    its backend, ``<host>@lvmdriver-1``). Whether each is disabled (and why) and
    whether the backend is frozen are kept in memory and shown; they change nothing
    else, and a restart forgets them.
    """

    BINARIES = ("cinder-scheduler", "cinder-volume")

    def __init__(self, host: str, availability_zone: str, policy: Enforcer) -> None:
        self.host = host
        self.availability_zone = availability_zone
        self.policy = policy
        self.started_at = objects.utcnow()
        self.disabled: dict[str, str | None] = {}  # binary -> reason
        self.frozen = False

    @endpoint
    async def service_status(self, ctx: RequestContext) -> dict[str, Any]:
        """This service's host, zone, times, disabled binaries and frozen flag."""
        return {
            "host": self.host,
            "zone": self.availability_zone,
            "started_at": self.started_at.isoformat(),
            "updated_at": objects.utcnow().isoformat(),
            "disabled": dict(self.disabled),
            "frozen": self.frozen,
        }

    @endpoint
    async def service_set(
        self,
        ctx: RequestContext,
        binary: str,
        disabled: bool,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Enable or disable one binary (admins); its state afterwards."""
        self.policy.authorize(ctx, "volume_extension:services:update", {"project_id": None})
        if binary not in self.BINARIES:
            raise NotFound(f"Service {binary} could not be found.")
        if disabled:
            self.disabled[binary] = reason
        else:
            self.disabled.pop(binary, None)
        return {"binary": binary, "disabled": disabled, "disabled_reason": reason}

    @endpoint
    async def service_freeze(self, ctx: RequestContext, frozen: bool) -> None:
        """Freeze or thaw the backend (admins): recorded and shown."""
        self.policy.authorize(ctx, "volume_extension:services:update", {"project_id": None})
        self.frozen = frozen


class VolumeManager(Manager):
    """Serves the ``volume`` topic: volumes, attachments, snapshots, types, quotas."""

    topic: ClassVar[str] = "volume"
    target: ClassVar[Target] = Target(version="1.1")  # 1.1: list(attached_to)

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("volume"), MIGRATIONS, name="volume")
        self.policy = Enforcer.from_file(config.policy.file)
        self.images = ImageAPI(transport, config)
        self.store = VolumeStore(self.db, host=host)
        zone = config.volume.availability_zone
        self.quotas = QuotaBook(self.store, self.policy, config)
        self.volumes = VolumeRecords(
            self.store, self.policy, self.quotas, self.images, availability_zone=zone
        )
        self.changes = VolumeChanges(self.store, self.policy, self.quotas)
        self.attachments = AttachmentStates(self.store, self.policy)
        self.snapshots = SnapshotRecords(self.store, self.policy, self.quotas)
        self.types = TypeRecords(self.store, self.policy)
        self.transfers = TransferRecords(self.store, self.policy, self.quotas)
        self.qos = QosRecords(self.store, self.policy)
        self.messages = MessageRecords(self.store, self.policy)
        self.backups = BackupRecords(self.store, self.policy, self.quotas)
        self.group_types = GroupTypeRecords(self.store, self.policy)
        self.groups = GroupRecords(self.store, self.policy, self.quotas, self.volumes, zone=zone)
        self.group_snapshots = GroupSnapshotRecords(self.store, self.policy, self.quotas)
        scratch = _scratch(config)
        self.uploads = ImageUploads(self.store, self.policy, self.images, scratch)
        self.status = ServiceStatus(host, zone, self.policy)

    def endpoints(self) -> list[object]:
        """The parts that serve this service's RPC endpoints (see the module docstring)."""
        return [
            self.volumes,
            self.changes,
            self.attachments,
            self.snapshots,
            self.types,
            self.transfers,
            self.qos,
            self.messages,
            self.backups,
            self.group_types,
            self.groups,
            self.group_snapshots,
            self.quotas,
            self.uploads,
            self.status,
        ]

    async def init_host(self) -> None:
        await self.db.open()
        self.uploads.scratch.mkdir(parents=True, exist_ok=True)

    async def cleanup_host(self) -> None:
        await self.uploads.drain()
        await self.db.close()


def _scratch(config: Config) -> Path:
    """Where image uploads are staged: beside the database, or in the temporary dir."""
    if config.state_path == ":memory:":
        return Path(tempfile.gettempdir()) / "nova-lite-volume-uploads"
    return Path(config.state_path) / "volume-uploads"
