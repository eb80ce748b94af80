"""The named group sets a run can select, each as Tempest include-list regexes.

A group is written as issue 15 writes it, a dotted prefix under ``tempest.api.``
with ``*`` for "any characters" (``compute.admin.test_hypervisor*``); like
Tempest's own ``--regex``, a group selects every test whose id starts with it, so
``network.test_routers`` also holds ``network.test_routers_negative``. The sets:

- ``issue``: the groups issue 15 names (the first nine are its core; the rest follow).
- ``interop``: exactly the interop guideline's required tests (`conformance.interop`).
- ``all``: every test under ``tempest.api`` but object storage (nova_lite has no Swift).
- ``ci``: the CI subset, exactly the tests of ``conformance/ci-expected-pass.txt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from conformance import interop

__all__ = [
    "CI_EXPECTED_PASS",
    "GROUP_SETS",
    "ISSUE_CORE",
    "ISSUE_GROUPS",
    "exact_regex",
    "group_patterns",
    "group_regex",
    "include_list",
    "read_test_list",
]

ISSUE_GROUPS: tuple[str, ...] = (
    "compute.servers",
    "compute.flavors",
    "compute.limits",
    "compute.admin.test_hypervisor*",
    "compute.admin.test_services*",
    "image.v2.test_images*",
    "network.test_networks*",
    "volume.test_volumes_get",
    "identity.v3.test_tokens",
    "compute.keypairs",
    "compute.security_groups",
    "compute.images",
    "compute.volumes",
    "network.test_ports",
    "network.test_security_groups*",
    "network.test_routers",
    "network.test_floating_ips",
    "volume.test_volumes*",
    "volume.test_snapshot",  # the issue's "volume.test_snapshots*" (no module has that name)
    "identity.v3.",
    "identity.admin.v3.",
)

ISSUE_CORE = ISSUE_GROUPS[:9]  # what issue 15 measured on the old main (428 tests)

ALL_API = r"^tempest\.api\.(?!object_storage\.)"

CI_EXPECTED_PASS = Path(__file__).with_name("ci-expected-pass.txt")

GROUP_SETS = ("issue", "interop", "all", "ci")


def group_regex(group: str) -> str:
    """The include regex of one group in the issue's notation (a prefix under tempest.api)."""
    parts = group.split("*")
    return r"^tempest\.api\." + ".*".join(re.escape(part) for part in parts)


def group_patterns(group_set: str) -> list[tuple[str, str]]:
    """The per-group rows a report shows for `group_set` (label, regex); the last is a total.

    For ``issue``: each group, then the nine groups issue 15 measured on the old main
    together (its "182 passed, 131 failed, 92 skipped, 23 not run" is of those).
    """
    if group_set != "issue":
        return []
    rows = [(group, group_regex(group)) for group in ISSUE_GROUPS]
    core = "|".join(f"(?:{group_regex(group)})" for group in ISSUE_CORE)
    return [*rows, ("the issue's nine core groups", core)]


def exact_regex(test_name: str) -> str:
    """The include regex of exactly one test, by its name without the ``[id-...]`` tags."""
    return "^" + re.escape(test_name) + r"(\[|$)"


def read_test_list(path: Path) -> list[str]:
    """The test names in a list file: one per line; blank lines and ``#`` comments skipped."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def include_list(group_set: str) -> list[str]:
    """The include-list regexes of a named group set (one of `GROUP_SETS`)."""
    if group_set == "issue":
        return [group_regex(group) for group in ISSUE_GROUPS]
    if group_set == "all":
        return [ALL_API]
    if group_set == "interop":
        return _exact(test.name for test in interop.load())
    if group_set == "ci":
        return _exact(read_test_list(CI_EXPECTED_PASS))
    raise ValueError(f"Unknown group set {group_set!r}: choose one of {', '.join(GROUP_SETS)}.")


def _exact(names: Iterable[str]) -> list[str]:
    return [exact_regex(name) for name in sorted(set(names))]
