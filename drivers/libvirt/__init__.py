"""The libvirt hypervisor driver: ``[compute] driver = "libvirt"``.

Needs libvirt-python (``pip install 'nova-lite[libvirt]'``); importing this package
without it raises ModuleNotFoundError for ``libvirt``, which the loader turns into
that advice. Modules, as in Nova's ``nova/virt/libvirt/``: `config` (the guest as
values), `xml` (domain XML), `host` (the connection, its thread and events),
`guest` (blocking operations on one domain), `imagecache` (base images and qcow2
overlays through qemu-img), `driver` (`LibvirtDriver`) and `disk_actions` (its
rescue, snapshot, volume and resize actions).
"""

from __future__ import annotations

from drivers.libvirt.driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
