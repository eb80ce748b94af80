"""The policy engine: oslo.policy's rule language, the defaults, and a policy file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.exceptions import ConfigError, PolicyError, PolicyNotAuthorized
from nova_lite.policy import DEFAULTS, Enforcer, parse
from nova_lite.policy.sample import render
from nova_lite.testing import CloudFactory, add_user

MEMBER = RequestContext(user_id="u1", project_id="p1", roles=("member",))
READER = RequestContext(user_id="u2", project_id="p1", roles=("reader",))
ADMIN = RequestContext(user_id="a", project_id="admin", roles=("admin",), is_admin=True)
RULES = {
    "admin": "role:admin",
    "owner": "project_id:%(project_id)s",
}


def _check(text: str, ctx: RequestContext, target: dict[str, object] | None = None) -> bool:
    check = parse(text)
    creds = {"roles": list(ctx.roles), "project_id": ctx.project_id, "user_id": ctx.user_id}
    return check(target or {"project_id": "p1"}, creds, lambda name: parse(RULES[name]))


@pytest.mark.parametrize(
    ("text", "ctx", "allowed"),
    [
        ("", READER, True),
        ("@", READER, True),
        ("!", ADMIN, False),
        ("role:member", MEMBER, True),
        ("role:MEMBER", MEMBER, True),
        ("role:member", READER, False),
        ("project_id:%(project_id)s", READER, True),
        ("rule:admin or rule:owner", READER, True),
        ("rule:admin and rule:owner", READER, False),
        ("not role:reader", READER, False),
        ("role:admin or role:member and project_id:%(project_id)s", MEMBER, True),
        ("(role:admin or role:member) and project_id:nope", MEMBER, False),
        ("not (role:admin or role:member)", READER, True),
        ("'public':%(visibility)s", READER, False),
        ("user_id:%(missing)s", READER, False),
    ],
)
def test_rules_evaluate_as_oslo_policy_does(text: str, ctx: RequestContext, allowed: bool) -> None:
    """Each rule form gives oslo.policy's answer: not > and > or, a missing key is false."""
    assert _check(text, ctx) is allowed


def test_a_literal_compares_with_the_target() -> None:
    """'public':%(visibility)s holds exactly for a public target."""
    assert _check("'public':%(visibility)s", READER, {"visibility": "public"})
    assert not _check("'public':%(visibility)s", READER, {"visibility": "private"})


@pytest.mark.parametrize("text", ["role:", "(role:a", "role:a or", "and role:a", "x", "role:a )"])
def test_malformed_rules_are_refused_with_the_text(text: str) -> None:
    """A rule that does not parse is a PolicyError quoting it."""
    with pytest.raises(PolicyError, match="Policy rule"):
        parse(text)


def test_members_imply_reader_and_admins_imply_both() -> None:
    """As Keystone's implied roles: a member may read, an admin may act as a member."""
    enforcer = Enforcer()

    assert enforcer.check(MEMBER, "volume:get", {"project_id": "p1"})
    assert enforcer.check(ADMIN, "volume:create", {"project_id": "p1"})
    assert not enforcer.check(READER, "volume:create", {"project_id": "p1"})


def test_every_default_parses_and_names_only_known_rules() -> None:
    """The default table builds an enforcer: every rule parses, every rule:NAME exists."""
    enforcer = Enforcer()

    assert set(enforcer.rules) == {rule.name for rule in DEFAULTS}
    assert len(DEFAULTS) == len(enforcer.rules)  # no rule is defined twice


def test_the_sample_policy_file_lists_every_rule_with_its_default() -> None:
    """etc/policy.sample.yaml is the generated sample: every rule and default, commented."""
    sample = Path(__file__).parent.parent / "etc" / "policy.sample.yaml"

    assert sample.read_text(encoding="utf-8") == render()
    for rule in DEFAULTS:
        assert f'#"{rule.name}": "{rule.check_str}"' in render()


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_a_policy_file_overrides_named_rules_only(tmp_path: Path, suffix: str) -> None:
    """A YAML or TOML file changes the rules it names; the others keep their defaults."""
    path = tmp_path / f"policy{suffix}"
    separator = " =" if suffix == ".toml" else ":"
    path.write_text(f'"add_image"{separator} "rule:context_is_admin"\n')
    enforcer = Enforcer.from_file(path)

    assert not enforcer.check(MEMBER, "add_image", {"project_id": "p1"})
    assert enforcer.check(ADMIN, "add_image", {"project_id": "p1"})
    assert enforcer.check(MEMBER, "delete_image", {"project_id": "p1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"no_such_rule": "@"\n', "not a policy rule"),
        ('"add_image": "role:"\n', "add_image"),
        ('"add_image": "rule:nope"\n', "unknown rule 'nope'"),
        ("- a list\n", "must map rule names"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_file_and_rule(
    tmp_path: Path, text: str, message: str
) -> None:
    """Unknown rule names, bad rules and bad shapes are errors naming the file."""
    path = tmp_path / "policy.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match=message) as caught:
        Enforcer.from_file(path)
    assert str(path) in str(caught.value)


def test_the_policy_file_option_is_read_strictly(tmp_path: Path) -> None:
    """[policy] file is a string option like the others (an integer is an error)."""
    config = tmp_path / "nova-lite.toml"
    config.write_text('[policy]\nfile = "/etc/nova-lite/policy.yaml"\n')
    assert Config.load(config, environ={}).policy.file == "/etc/nova-lite/policy.yaml"
    config.write_text("[policy]\nfile = 5\n")
    with pytest.raises(ConfigError, match="file"):
        Config.load(config, environ={})


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_a_peer_on_the_bus_gets_the_answer_of_the_http_route(
    clouds: CloudFactory, tmp_path: Path
) -> None:
    """The image service enforces its rules itself: an override reaches RPC callers too."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"add_image": "rule:context_is_admin"\n')
    cloud = await clouds.start(computes=1, policy={"file": str(policy)})
    admin = await cloud.login_admin()
    member = await add_user(cloud, admin, "mia", project="demo")
    reader = await add_user(cloud, admin, "rex", project="demo", role="reader")

    with pytest.raises(PolicyNotAuthorized, match="add_image"):
        await cloud.api.image.create(await member.context(), "mine")
    with pytest.raises(PolicyNotAuthorized, match="create_network"):
        await cloud.api.network.create_network(await reader.context(), "net", shared=False)
    assert (await cloud.api.image.create(await admin.context(), "ok")).name == "ok"
