"""The one storage backend behind the volume service, as Cinder's scheduler sees it.

Its capabilities are what os-services, the pools and ``capabilities/{host}`` show,
and what a volume type's extra specs are matched against when a volume is created
(Cinder's CapabilitiesFilter): a type asking for another backend name, protocol or
vendor finds no backend, and its volume goes to ``error`` with a user message.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BACKEND_NAME", "CAPABILITIES", "PROTOCOL", "VENDOR", "unmet"]

BACKEND_NAME = "lvmdriver-1"
VENDOR = "Open Source"
PROTOCOL = "iSCSI"
CAPABILITIES: dict[str, str] = {
    "volume_backend_name": BACKEND_NAME,
    "vendor_name": VENDOR,
    "storage_protocol": PROTOCOL,
}
_PROTOCOL_SPELLINGS = {"iscsi"}


def _matches(key: str, wanted: str, have: str) -> bool:
    """Whether a spec's value fits the capability (``<in>``, ``<or>`` and plain forms)."""
    wanted = wanted.strip()
    if wanted.startswith("<in>"):
        return wanted[4:].strip().lower() in have.lower()
    if wanted.startswith("<or>"):
        options = [option.strip() for option in wanted[4:].split("<or>")]
        return any(_matches(key, option, have) for option in options)
    if key == "storage_protocol":
        return wanted.lower() in _PROTOCOL_SPELLINGS
    return wanted == have


def unmet(extra_specs: Mapping[str, str]) -> list[str]:
    """The extra specs the backend does not satisfy (none: it can hold the volume)."""
    missing = []
    for key, wanted in extra_specs.items():
        name = key.removeprefix("capabilities:")
        if name in CAPABILITIES and not _matches(name, wanted, CAPABILITIES[name]):
            missing.append(key)
    return missing
