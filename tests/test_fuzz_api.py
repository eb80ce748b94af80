"""Hypothesis against the public entry points: the server API and image uploads.

Every input gets a service-level answer (a result, or a NovaError subclass with a
message), never a crash or a RemoteError; a refused request leaves nothing behind;
and the services keep serving. The cloud runs on an event loop in a thread, so
hypothesis' synchronous examples can drive it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nova_lite.api.client import Session
from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.exceptions import NovaError, RemoteError
from nova_lite.testing import audit

T = TypeVar("T")
MAX_IMAGE = 70_000  # the seeded default image is 64 KiB
Runner = Callable[[Coroutine[Any, Any, T]], T]
SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@attrs.frozen
class Fuzzed:
    run: Runner[Any]
    cloud: Cloud
    admin: Session
    store: Path


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A cloud on the in-memory broker, running on its own event loop thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    state = tmp_path_factory.mktemp("fuzz")
    config = Config.load(
        environ={},
        state_path=str(state),
        identity={"bootstrap_password": "fuzz-admin-pw"},
        image={"max_image_bytes": MAX_IMAGE, "chunk_bytes": 1024},
        quota={"instances": 5, "cores": 5, "ram": 5 * 512},
    )
    cloud = Cloud(config, computes=1)
    run(cloud.start())
    admin = run(cloud.login_admin())
    try:
        yield Fuzzed(run, cloud, admin, state / "images")
    finally:
        run(cloud.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _answer(fuzzed: Fuzzed, coro: Coroutine[Any, Any, Any]) -> Any:
    """The result, or the NovaError the services answered with; anything else fails."""
    try:
        return fuzzed.run(coro)
    except RemoteError as exc:
        pytest.fail(f"a service crashed instead of refusing: {exc}")
    except NovaError as exc:
        assert str(exc), "a refusal must say why"
        return exc


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
)


@SETTINGS
@given(
    name=anything | st.sampled_from(["web", "a" * 256, "tab\there", "ünïcode ☃"]),
    flavor=anything | st.sampled_from(["m1.tiny", "m1.xlarge", "1", ""]),
    image=anything | st.sampled_from(["cirros", "../../etc/passwd", None]),
    count=anything | st.sampled_from([1, 2, 0, -1, 10**6]),
    networks=st.none() | st.lists(st.text(max_size=40), max_size=3),
)
def test_server_create_answers_every_input(
    fuzzed: Fuzzed, name: Any, flavor: Any, image: Any, count: Any, networks: Any
) -> None:
    """servers.create either creates within quota or refuses with a reason, all or nothing."""
    servers = fuzzed.admin.servers
    before = len(fuzzed.run(servers.list()))
    result = _answer(
        fuzzed, servers.create(name, flavor=flavor, image=image, count=count, networks=networks)
    )
    after = fuzzed.run(servers.list())
    if isinstance(result, NovaError):
        assert len(after) == before  # nothing written half-way
    else:
        assert len(after) == before + len(result)
        for server in result:
            fuzzed.run(servers.delete(server.id))
            fuzzed.run(servers.wait_for(server.id, "DELETED", timeout=30))
    report = fuzzed.run(audit(fuzzed.cloud))
    assert report.clean, report.findings  # nothing half-made left in any service's books


@SETTINGS
@given(
    server_id=st.text(max_size=80) | st.sampled_from(["../x", "' OR 1=1 --", "\x00"]),
    action=st.sampled_from(
        [
            "pause",
            "stop",
            "reboot",
            "rescue",
            "shelve",
            "lock",
            "get",
            "delete",
            "actions",
            "console_output",
        ]
    ),
)
def test_actions_on_unknown_servers_are_refused(
    fuzzed: Fuzzed, server_id: str, action: str
) -> None:
    """Any server id that is not a server gets InstanceNotFound (or Invalid), never a crash."""
    result = _answer(fuzzed, getattr(fuzzed.admin.servers, action)(server_id))
    assert isinstance(result, NovaError)


@SETTINGS
@given(
    chunks=st.lists(
        st.tuples(
            st.integers(-5, 80_000) | st.just(0),
            st.binary(max_size=40_000).map(lambda b: base64.b64encode(b).decode())
            | st.text(max_size=20),
        ),
        max_size=5,
    ),
    finish=st.booleans(),
)
def test_image_uploads_never_corrupt_the_store(
    fuzzed: Fuzzed, chunks: list[tuple[int, str]], finish: bool
) -> None:
    """Chunks at any offset with any data: clear refusals, and no stray or partial image."""
    images = fuzzed.cloud.api.image
    ctx = fuzzed.run(fuzzed.admin.context())
    image = fuzzed.run(images.create(ctx, "fuzzed"))
    _answer(fuzzed, images.invoker.call(ctx, "upload_begin", image_id=image.id))
    for offset, data in chunks:
        _answer(
            fuzzed,
            images.invoker.call(
                ctx, "upload_chunk", image_id=image.id, offset=offset, data_b64=data
            ),
        )
    if finish:
        _answer(fuzzed, images.invoker.call(ctx, "upload_end", image_id=image.id))
    final = fuzzed.run(images.get(ctx, image.id))
    assert final.status in ("saving", "queued", "active")
    if final.status == "active":
        assert final.size is not None and final.size <= MAX_IMAGE
        assert (fuzzed.store / image.id).stat().st_size == final.size
    for path in fuzzed.store.iterdir():
        assert path.resolve().parent == fuzzed.store.resolve()
    fuzzed.run(images.delete(ctx, image.id))
