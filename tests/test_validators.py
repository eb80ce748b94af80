"""The name rules of nova_lite.validators, one per service as OpenStack has them, and the
services and HTTP APIs that apply them (no name is ever stored as the text "None" or "5")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from nova_lite import validators
from nova_lite.exceptions import Invalid
from nova_lite.testing import PASSWORD, CloudFactory
from tests.http_fixtures import FrontEnd

Rule = Callable[..., str]

LONG = "a" * 255
TOO_LONG = "a" * 256
NOT_STRINGS: list[Any] = [None, 5, 1.5, True, ["web"], {"name": "web"}, b"web"]
CONTROL = ["tab\there", "new\nline", "nul\x00", "del\x7f", "esc\x1b[0m"]


def refused(rule: Rule, value: Any) -> str:
    """The message of the `Invalid` that `rule` raises for `value`."""
    with pytest.raises(Invalid) as caught:
        rule(value)
    return str(caught.value)


def names_the_value(message: str, value: Any) -> bool:
    return repr(value)[:40] in message


CASES: dict[str, tuple[Rule, list[Any], list[Any]]] = {
    # rule: (its function, names it keeps as they are, names it refuses)
    "server (Nova)": (
        validators.server_name,
        ["web", "x", LONG, "web server", "ünïcode ☃", "日本語", "a-b_c.d"],
        [
            *NOT_STRINGS,
            *CONTROL,
            "",
            TOO_LONG,
            " web",
            "web ",
            "\u00a0web",  # a no-break space (Zs) at the start
            "web\u3000",  # an ideographic space (Zs) at the end
            "line\u2028sep",  # a line separator (Zl)
            "soft\u00adhyphen",  # a format character (Cf)
            "private\ue000use",  # a private-use character (Co)
        ],
    ),
    "image (Glance)": (
        validators.image_name,
        ["", "cirros", " spaced ", LONG, "\u00a0", "日本語"],
        [5, 1.5, True, ["x"], {}, b"x", *CONTROL, TOO_LONG],
    ),
    "network (Neutron)": (
        validators.network_name,
        ["", "private", " x ", LONG, "\u00a0"],
        [*NOT_STRINGS, *CONTROL, TOO_LONG],
    ),
    "volume (Cinder)": (
        validators.volume_name,
        ["", "data", " spaced ", "  " + LONG + "  "],
        [5, 1.5, True, ["x"], {}, b"x", *CONTROL, TOO_LONG, " " + TOO_LONG],
    ),
    "user (Keystone)": (
        validators.user_name,
        ["alice", "a", LONG, "Ωmega", " padded ", "first last"],
        [*NOT_STRINGS, *CONTROL, "", " ", "\u3000", TOO_LONG],
    ),
    "project (Keystone)": (
        validators.project_name,
        ["demo", "a", "a" * 64, " padded "],
        [*NOT_STRINGS, *CONTROL, "", "  ", "a" * 65],
    ),
}


@pytest.mark.parametrize(
    ("rule", "value"),
    [(CASES[k][0], v) for k in CASES for v in CASES[k][1]],
    ids=[f"{k}-{v!r:.20}" for k in CASES for v in CASES[k][1]],
)
def test_a_good_name_is_kept_as_it_is(rule: Rule, value: str) -> None:
    """Every name its service allows is returned unchanged (no stripping, no conversion)."""
    assert rule(value) == value and type(rule(value)) is str


@pytest.mark.parametrize(
    ("rule", "value"),
    [(CASES[k][0], v) for k in CASES for v in CASES[k][2]],
    ids=[f"{k}-{v!r:.20}" for k in CASES for v in CASES[k][2]],
)
def test_a_bad_name_is_invalid_naming_the_field_and_value(rule: Rule, value: Any) -> None:
    """Every name its service refuses is Invalid, with the field and the value in the message."""
    message = refused(rule, value)
    assert message.startswith("name ") and names_the_value(message, value), message


@pytest.mark.parametrize("rule", [validators.image_name, validators.volume_name])
def test_an_absent_name_is_stored_empty_where_openstack_allows_none(rule: Rule) -> None:
    """Glance and Cinder take a null name as no name: it becomes "", never "None"."""
    assert rule(None) == ""


@pytest.mark.parametrize(
    "rule",
    [
        validators.server_name,
        validators.network_name,
        validators.user_name,
        validators.project_name,
    ],
)
def test_an_absent_name_is_refused_where_openstack_refuses_it(rule: Rule) -> None:
    """Nova, Neutron and Keystone refuse a null name."""
    assert "must be a string, not None" in refused(rule, None)


def test_the_message_names_the_field_it_is_given() -> None:
    """The field a caller names is the one the error names."""
    with pytest.raises(Invalid, match=r"^bootstrap_project must be 1 to 64 characters long"):
        validators.project_name("p" * 65, "bootstrap_project")
    with pytest.raises(Invalid) as caught:
        validators.server_name("\u2028", "snapshot name")
    assert caught.value.kwargs == {"field": "snapshot name"}
    assert "U+2028 (LINE SEPARATOR)" in str(caught.value)


def test_the_shared_argument_checks() -> None:
    """text, optional_text, boolean and text_list (shared by network and volume) refuse
    what is not of their type, naming the field."""
    assert validators.text("host", "h1") == "h1" and validators.optional_text("x", None) is None
    assert validators.text_list("ids", ("a", "b")) == ["a", "b"]
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: validators.text("host", 5), "host must be a string, not 5"),
        (lambda: validators.text("host", "  "), "host must not be empty"),
        (lambda: validators.text("host", "h" * 256), "longer than 255"),
        (lambda: validators.boolean("shared", 1), "shared must be true or false, not 1"),
        (lambda: validators.text_list("ids", "abc"), "ids must be a list of ids, not 'abc'"),
        (lambda: validators.text_list("ids", ["a", ""]), r"ids\[1\] must not be empty"),
    ]
    for call, message in cases:
        with pytest.raises(Invalid, match=message):
            call()


# -- the services and HTTP APIs apply them ------------------------------------------------


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """A one-host cloud behind the HTTP front end."""
    cloud = await clouds.start(computes=1)
    front = await FrontEnd.start(cloud)
    try:
        yield front
    finally:
        await front.aclose()


async def test_network_names_null_and_5_are_refused_not_stored(front: FrontEnd) -> None:
    """POST /networks with name null or 5 is 400 and stores nothing; no name is "" (201)."""
    token = await front.token()
    path = "/network/v2.0/networks"
    null = await front.call("POST", path, token=token, json={"network": {"name": None}})
    five = await front.call("POST", path, token=token, json={"network": {"name": 5}})
    unnamed = await front.call("POST", path, token=token, json={"network": {}})
    names = {n["name"] for n in (await front.call("GET", path, token=token)).body["networks"]}
    assert (null.status, five.status, unnamed.status) == (400, 400, 201)
    assert "network/name. Value: None" in null.body["NeutronError"]["message"]
    assert unnamed.body["network"]["name"] == ""
    assert not names & {"None", "5"}


async def test_image_names_5_is_refused_and_null_is_no_name(front: FrontEnd) -> None:
    """POST /images with name 5 is 400; with null or no name the image has no name ("")."""
    token = await front.token()
    five = await front.call("POST", "/image/v2/images", token=token, json={"name": 5})
    null = await front.call("POST", "/image/v2/images", token=token, json={"name": None})
    unnamed = await front.call("POST", "/image/v2/images", token=token, json={})
    names = {
        i["name"] for i in (await front.call("GET", "/image/v2/images", token=token)).body["images"]
    }
    assert (five.status, null.status, unnamed.status) == (400, 201, 201)
    assert null.body["name"] == "" and unnamed.body["name"] == ""
    assert not names & {"None", "5"}


async def test_volume_names_5_is_refused_and_null_is_no_name(front: FrontEnd) -> None:
    """POST /volumes with name 5 is 400; with null the volume has no name ("")."""
    token = await front.token()
    project_id = (await front.cloud.api.context_for(token)).project_id
    path = f"/volume/v3/{project_id}/volumes"
    five = await front.call("POST", path, token=token, json={"volume": {"size": 1, "name": 5}})
    null = await front.call("POST", path, token=token, json={"volume": {"size": 1, "name": None}})
    assert (five.status, null.status) == (400, 202)
    assert null.body["volume"]["name"] == ""


async def test_server_names_follow_novas_rule_over_http(front: FrontEnd) -> None:
    """Creating or renaming a server with a space at either end is 400, as in Nova."""
    token = await front.token()
    server = {"name": " web", "imageRef": await front.image_id(), "flavorRef": "1"}
    created = await front.call(
        "POST", "/compute/v2.1/servers", token=token, json={"server": server}
    )
    server_id = await front.boot(token)
    renamed = await front.call(
        "PUT", f"/compute/v2.1/servers/{server_id}", token=token, json={"server": {"name": "x "}}
    )
    assert (created.status, renamed.status) == (400, 400)
    assert "must not start or end with a space" in created.body["badRequest"]["message"]


async def test_a_snapshot_with_a_bad_name_leaves_the_server_idle(front: FrontEnd) -> None:
    """servers.snapshot refuses a bad name before it claims the server, so no task is left."""
    admin = await front.cloud.login_admin()
    (server,) = await admin.servers.create("web", flavor="m1.tiny", image="cirros")
    await admin.servers.wait_for(server.id, "ACTIVE")
    images_before = len(await front.cloud.api.image.list(await admin.context()))

    for bad in ("", "x" * 256, "tab\there"):
        with pytest.raises(Invalid, match="name"):
            await admin.servers.snapshot(server.id, bad)

    instance = await front.cloud.api.conductor.instance_get(await admin.context(), server.id)
    assert instance.task_state is None
    assert len(await front.cloud.api.image.list(await admin.context())) == images_before


async def test_keystone_lengths_for_users_and_projects(front: FrontEnd) -> None:
    """A 255-character user name is taken, a 65-character project name is not (Keystone)."""
    api = front.cloud.api.identity
    ctx = await (await front.cloud.login_admin()).context()
    await api.create_project(ctx, "p" * 64)
    await api.create_user(ctx, "u" * 255, PASSWORD, "p" * 64)
    with pytest.raises(Invalid, match="name must be 1 to 64 characters long, not 65"):
        await api.create_project(ctx, "p" * 65)
    with pytest.raises(Invalid, match="must not be only whitespace"):
        await api.create_user(ctx, "   ", PASSWORD, "p" * 64)
    session = await front.cloud.api.login("u" * 255, PASSWORD, project="p" * 64)
    assert (await session.context()).user_name == "u" * 255
