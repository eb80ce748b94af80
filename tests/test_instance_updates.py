"""Which saves announce ``instance.update``: what the API shows, or every save.

With ``[notifications] notify_on_state_change = "status"`` (the default) a save is
announced when it changes the server's vm_state, its API status or whether a task
runs: what a client watching the server (and the API's own `wait_for`) can see. A
build's steps between being recorded and ACTIVE leave all three alone. With
``"vm_and_task_state"`` every save is announced, as Nova does with that setting.
"""

from __future__ import annotations

from nova_lite.testing import CloudFactory, CloudHarness

EVERY_SAVE = {"notify_on_state_change": "vm_and_task_state"}


def _states(harness: CloudHarness, server: str) -> list[tuple[str, str | None]]:
    return [
        (note.payload["vm_state"], note.payload["task_state"])
        for note in harness.tap.about(server, "instance.update")
    ]


async def test_a_build_announces_its_record_and_its_end_only(clouds: CloudFactory) -> None:
    harness = await CloudHarness.start(clouds, computes=1)
    server = await harness.boot()
    await harness.tap.wait_event(server, "instance.create.end")

    assert _states(harness, server) == [("building", "scheduling"), ("active", None)]
    # The steps in between were saved all the same: the build's event says so.
    instance = await harness.instance(server)
    assert instance.addresses and instance.host == "compute1"


async def test_a_task_is_announced_when_it_begins_and_when_it_ends(
    clouds: CloudFactory,
) -> None:
    """A resize shows RESIZE from its first step to its last (resize_prep ->
    resize_migrating -> resize_migrated) and VERIFY_RESIZE when it ends: its start and
    its end are announced, the steps between are not. The API's wait for
    VERIFY_RESIZE is woken by the end all the same."""
    harness = await CloudHarness.start(clouds, computes=2)
    server = await harness.boot()
    before = len(harness.tap.about(server, "instance.update"))

    await harness.servers.resize(server, "m1.small")
    await harness.wait(server, "VERIFY_RESIZE")
    await harness.tap.wait_count(server, "instance.update", before + 2)

    assert _states(harness, server)[before:] == [("active", "resize_prep"), ("resized", None)]


async def test_every_save_is_announced_when_configured(clouds: CloudFactory) -> None:
    harness = await CloudHarness.start(clouds, computes=1, notifications=EVERY_SAVE)
    server = await harness.boot()
    await harness.tap.wait_event(server, "instance.create.end")

    assert _states(harness, server) == [
        ("building", "scheduling"),
        ("building", "scheduling"),  # the conductor records the host it chose
        ("building", "networking"),
        ("building", "spawning"),
        ("active", None),
    ]
