"""The end-to-end helpers the suite shares, now shipped in `nova_lite.testing`.

Tests import them from `nova_lite.testing`; these names stay so that code written
against this module keeps working. The `clouds` fixture is the plugin's.
"""

from __future__ import annotations

from nova_lite.testing import (
    FAST_HASHES,
    PASSWORD,
    WAIT,
    CloudFactory,
    Notification,
    NotificationTap,
    add_user,
    assert_audit_clean,
    assert_nothing_leaked,
    audit,
    identity_of,
    restart_compute,
    scheduler_of,
    unlimited_quota,
    wait_all,
)

__all__ = [
    "FAST_HASHES",
    "PASSWORD",
    "WAIT",
    "CloudFactory",
    "Notification",
    "NotificationTap",
    "add_user",
    "assert_audit_clean",
    "assert_nothing_leaked",
    "audit",
    "identity_of",
    "restart_compute",
    "scheduler_of",
    "unlimited_quota",
    "wait_all",
]
