"""The image manager (Glance's role): image records, members and data.

The manager owns the database, the data store and the policy, and composes the
parts that carry the endpoints, each given what it uses:

- `ImageRecords` (``records.py``): create, show, list (Glance's filters, sorting and
  paging), update (Glance's patch operations, and the library's rename/properties),
  tags, deactivate/reactivate, delete;
- `ImageData` (``data.py``): chunked uploads and downloads, and the reaper of
  abandoned uploads;
- `ImageMembers` (``members.py``): sharing images with other projects;
- `ImageImports` (``imports.py``): staging and importing data (``glance-direct``),
  and the image tasks that record imports;
- `MetadefCatalog` (``metadefs.py``): the metadata-definition catalog;
- `TaskRecords` (``tasks.py``): Glance's deprecated tasks API (``/v2/tasks``).

`ImageAccess` (``access.py``), shared by the three, decides who sees an image and
what the policy is asked about it: an image the caller may not see is
`ImageNotFound`, exactly as if it did not exist.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import ClassVar

from nova_lite import clock
from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.db import Database
from nova_lite.image import checks
from nova_lite.image.access import ImageAccess
from nova_lite.image.data import ImageData
from nova_lite.image.imports import ImageImports
from nova_lite.image.members import ImageMembers
from nova_lite.image.metadefs import MetadefCatalog
from nova_lite.image.records import ImageRecords
from nova_lite.image.rpcapi import ImageAPI
from nova_lite.image.schema import MIGRATIONS
from nova_lite.image.store import ImageStore
from nova_lite.image.tasks import TaskRecords
from nova_lite.policy import Enforcer
from nova_lite.rpc import Target
from nova_lite.service import Manager, PeriodicTask
from nova_lite.transport import Transport

__all__ = ["ImageManager"]


def _store_root(config: Config) -> Path:
    """Where the data store lives: ``Config.service_dir("images")``, not yet created."""
    base = Path(config.state_path if config.state_path != ":memory:" else ".nova_lite")
    return base / "images"


class ImageManager(Manager):
    """The image service: its database, store and policy, and the parts serving them."""

    topic: ClassVar[str] = "image"
    target = Target(version=ImageAPI.version)

    def __init__(self, config: Config, transport: Transport, host: str) -> None:
        super().__init__(config, transport, host)
        self.db = Database(config.database_path("image"), MIGRATIONS, name="image")
        self.store = ImageStore(_store_root(config))
        self.policy = Enforcer.from_file(config.policy.file)
        self.upload_idle_timeout = config.image.upload_idle_timeout
        access = ImageAccess(self.db, self.policy)
        self.records = ImageRecords(
            self.db, access, self.store, max_images=config.image.image_count_total
        )
        self.data = ImageData(
            self.db,
            access,
            self.store,
            max_image_bytes=config.image.max_image_bytes,
            chunk_bytes=checks.chunk_limit(config),
            upload_idle_timeout=self.upload_idle_timeout,
        )
        self.members = ImageMembers(self.db, access)
        self.imports = ImageImports(self.db, access, self.store)
        self.metadefs = MetadefCatalog(self.db, self.policy)
        self.tasks = TaskRecords(self.db, self.policy)

    def __repr__(self) -> str:
        return f"<ImageManager {self.host} {self.db!r}>"

    def endpoints(self) -> builtins.list[object]:
        """The parts that serve the image service's RPC endpoints."""
        return [self.records, self.data, self.members, self.imports, self.metadefs, self.tasks]

    async def init_host(self) -> None:
        self.config.service_dir("images")
        await self.db.open()
        try:
            # Uploads cannot resume across restarts: their hashing state is gone.
            await self.store.recover()
            await self.db.execute("UPDATE images SET status = 'queued' WHERE status = 'saving'")
            await self.imports.recover()
        except BaseException:
            await self.db.close()
            raise

    async def cleanup_host(self) -> None:
        await self.db.close()

    def periodic_tasks(self) -> builtins.list[PeriodicTask]:
        """Discard uploads abandoned mid-way (no chunk for ``[image] upload_idle_timeout``)."""
        interval = max(1.0, self.upload_idle_timeout / 4)
        return [PeriodicTask("image.reap_idle_uploads", interval, self._reap)]

    async def _reap(self, ctx: RequestContext) -> None:
        await self.data.reap_idle_uploads(clock.monotonic())

    async def reap_idle_uploads(self, now: float) -> int:
        """Return every upload idle past the timeout (at `now`) to ``queued``; how many."""
        return await self.data.reap_idle_uploads(now)
