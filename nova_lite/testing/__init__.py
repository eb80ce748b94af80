"""Helpers for testing code that runs on nova_lite: your endpoints, drivers and clients.

Nothing here needs pytest; the fixtures that wrap these helpers are in
`nova_lite.testing.pytest_plugin`, which a project enables itself (see its
docstring). What there is:

- `TransportFactory` (``brokers.py``): connections to one test's broker, the
  in-memory one or RabbitMQ, with names unique to the test, tidied up at the end.
- `CloudFactory` and the book checks (``clouds.py``): whole `Cloud`s isolated on a
  test's broker, and `assert_nothing_leaked`, `assert_audit_clean`,
  `restart_compute`, `add_user`, `unlimited_quota`, `fake_driver`.
- `CloudHarness` (``harness.py``): a started cloud with its admin, a member and a
  notification tap, and the helpers a lifecycle test needs (boot, wait, settle,
  reach a state, guests, usage, delete and check that nothing is left).
- `NotificationTap` and `capture_notifications` (``notifications.py``): awaitable
  notifications, so tests wait for events instead of sleeping.
- `capture_logs` (``logs.py``): log events as nova_lite's processors leave them
  (request ids merged, secrets masked).
- `PrivateRabbitMQ` (``rabbitmq_node.py``): a RabbitMQ node of a test's own (own
  name, ports, data and cookie), to stop, restart and kill without touching the
  shared broker.
- `hold`, `slow`, `Gate` and `DriverFaults` (``faults.py``): hold a call until
  released, slow it, or make a fake hypervisor's next step fail.
"""

from __future__ import annotations

from nova_lite.testing.brokers import TransportFactory, amqp_url, broker_answers
from nova_lite.testing.clouds import (
    FAST_HASHES,
    PASSWORD,
    WAIT,
    CloudFactory,
    add_user,
    assert_audit_clean,
    assert_nothing_leaked,
    audit,
    conductor_of,
    fake_driver,
    fast_password_hashes,
    identity_of,
    restart_compute,
    scheduler_of,
    unlimited_quota,
    wait_all,
)
from nova_lite.testing.faults import STEPS, DriverFaults, DriverStep, Gate, hold, slow
from nova_lite.testing.harness import REACHABLE, CloudHarness
from nova_lite.testing.logs import capture_logs, events_named
from nova_lite.testing.notifications import Notification, NotificationTap, capture_notifications
from nova_lite.testing.rabbitmq_node import PrivateRabbitMQ

__all__ = [
    "FAST_HASHES",
    "PASSWORD",
    "REACHABLE",
    "STEPS",
    "WAIT",
    "CloudFactory",
    "CloudHarness",
    "DriverFaults",
    "DriverStep",
    "Gate",
    "Notification",
    "NotificationTap",
    "PrivateRabbitMQ",
    "TransportFactory",
    "add_user",
    "amqp_url",
    "assert_audit_clean",
    "assert_nothing_leaked",
    "audit",
    "broker_answers",
    "capture_logs",
    "capture_notifications",
    "conductor_of",
    "events_named",
    "fake_driver",
    "fast_password_hashes",
    "hold",
    "identity_of",
    "restart_compute",
    "scheduler_of",
    "slow",
    "unlimited_quota",
    "wait_all",
]
