"""Helpers for the libvirt driver's tests: what they need, sample objects, the image hook.

`require_libvirt` and `require` skip a test module whose needs are missing, with the
reason and the fix; with ``CI=true`` a missing need fails the run instead, since CI
runs scripts/setup-libvirt first. `wire_image_files` makes the compute call the
driver's `prepare_image_files` hook after fetching a boot image (what the compute
manager's wiring does).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest

from nova_lite import objects
from nova_lite.compute.image_cache import ImageCache
from nova_lite.context import RequestContext

__all__ = [
    "IN_CI",
    "PORT",
    "SMALL",
    "TINY",
    "make_instance",
    "missing",
    "require",
    "require_libvirt",
    "wire_image_files",
]

IN_CI = os.environ.get("CI", "").lower() == "true"
SETUP = "run scripts/setup-libvirt"

TINY = objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1)
SMALL = objects.Flavor(flavorid="2", name="m1.small", vcpus=2, memory_mb=2048, root_gb=2)
PORT = objects.Port(
    id="3f2b8c1e-5d6a-4b7c-9e8f-0a1b2c3d4e5f",
    network_id="net-1",
    mac_address="fa:16:3e:00:00:01",
    fixed_ips=({"subnet_id": "sub-1", "ip_address": "10.0.0.5"},),
)


def missing(reason: str) -> NoReturn:
    """Skip the module for `reason`; under ``CI=true`` fail the run instead."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: scripts/setup-libvirt should have provided it).")
    pytest.skip(f"{reason}; {SETUP}", allow_module_level=True)


def require_libvirt() -> Any:
    """The libvirt module, or a skip (CI: a failure) naming how to install it."""
    try:
        import libvirt
    except ModuleNotFoundError:
        missing("libvirt-python is not installed (pip install 'nova-lite[libvirt]')")
    return libvirt


def require(*commands: str) -> None:
    """Skip (CI: fail) unless every command is on PATH."""
    absent = [c for c in commands if shutil.which(c) is None]
    if absent:
        missing(f"{', '.join(absent)} not found on PATH")


def make_instance(
    name: str = "vm-1", *, flavor: objects.Flavor = TINY, image_ref: str | None = "img-1"
) -> objects.Instance:
    return objects.Instance(
        uuid=str(uuid.uuid4()),
        display_name=name,
        project_id="p1",
        user_id="u1",
        flavor=flavor,
        image_ref=image_ref,
        vm_state="building",
    )


def wire_image_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every compute's image fetch also run the driver's `prepare_image_files`.

    The kernel and ramdisk go through the compute's own verified image cache, fetched
    with the request's context, exactly as the boot image does.
    """
    fetch_image = ImageCache.fetch

    async def fetch_and_prepare(
        self: ImageCache,
        ctx: RequestContext,
        instance: objects.Instance,
        *,
        known: objects.Image | None = None,
    ) -> tuple[objects.Image | None, Path | None]:
        image, path = await fetch_image(self, ctx, instance, known=known)
        prepare = getattr(self.driver, "prepare_image_files", None)
        if image is not None and prepare is not None:

            async def fetch(image_id: str) -> Path:
                _, file = await fetch_image(self, ctx, attrs.evolve(instance, image_ref=image_id))
                assert file is not None
                return file

            await prepare(image, fetch)
        return image, path

    monkeypatch.setattr(ImageCache, "fetch", fetch_and_prepare)
