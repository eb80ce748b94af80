"""The dashboard over plain HTTP: sessions, CSRF, escaping, what each user may see.

A cloud is served on a free port and a cookie-keeping HTTP client plays the browser
(`tests/test_dashboard_browser.py` drives a real one). These pin what a browser
cannot show: the cookie's attributes, the refusal of a POST without its CSRF token
before anything changes, the security headers, that every page is made of calls to
the HTTP API (never the bus), and that the offered actions are exactly those the
state table lets through.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import attrs
import pytest
from multidict import CIMultiDictProxy

from nova_lite import objects
from nova_lite.api.http import HttpServer
from nova_lite.api.http.dashboard.actions import ACTIONS, allowed_actions
from nova_lite.api.http.dashboard.admin import usage_by_project
from nova_lite.api.http.dashboard.security import CsrfKey
from nova_lite.compute import task_states, vm_states
from nova_lite.compute.allowed_states import RULES, check_instance_state
from nova_lite.context import RequestContext
from nova_lite.exceptions import Conflict
from nova_lite.testing import PASSWORD, CloudFactory, CloudHarness, capture_logs, events_named
from tests.http_fixtures import FrontEnd

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@attrs.frozen
class Page:
    """One dashboard response: status, headers, text."""

    status: int
    headers: CIMultiDictProxy[str]
    text: str

    def cookie(self, name: str) -> Any:
        """The Set-Cookie morsel for `name` (KeyError if the response sets none)."""
        for header in self.headers.getall("Set-Cookie", []):
            parsed: SimpleCookie = SimpleCookie(header)
            if name in parsed:
                return parsed[name]
        raise KeyError(name)

    @property
    def csrf(self) -> str:
        """The page's CSRF token (its forms' hidden field)."""
        found = CSRF.search(self.text)
        assert found, self.text
        return found.group(1)


class User:
    """A browser stand-in: an HTTP client with a cookie jar, on the dashboard."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def __repr__(self) -> str:
        return f"<User {self.base}>"

    async def get(self, path: str) -> Page:
        """GET `path`, not following redirects."""
        async with self.http.get(self.base + path, allow_redirects=False) as reply:
            return Page(reply.status, reply.headers, await reply.text())

    async def post(
        self, path: str, form: dict[str, str], *, cookies: dict[str, str] | None = None
    ) -> Page:
        """POST `form` to `path` (with extra `cookies`), not following redirects."""
        async with self.http.post(
            self.base + path, data=form, cookies=cookies, allow_redirects=False
        ) as reply:
            return Page(reply.status, reply.headers, await reply.text())

    async def sign_in(self, user: str, project: str) -> Page:
        """Sign in through the form (its CSRF token included); the 303 answer."""
        form = await self.get("/dashboard/login")
        fields = {"csrf_token": form.csrf, "username": user, "password": PASSWORD}
        return await self.post("/dashboard/login", {**fields, "project": project})

    async def act(self, server_id: str, action: str, csrf: str | None) -> Page:
        """Press `action` on the server (with `csrf` as the form's token, None: no field)."""
        form = {"action": action, "back": "list"}
        if csrf is not None:
            form["csrf_token"] = csrf
        return await self.post(f"/dashboard/servers/{server_id}/action", form)

    def session_token(self) -> str:
        """The Keystone token the session cookie holds."""
        return next(c.value for c in self.http.cookie_jar if c.key == "nova_lite_session")

    async def aclose(self) -> None:
        """Close the client."""
        await self.http.close()


@pytest.fixture
async def harness(memory_clouds: CloudFactory) -> CloudHarness:
    """Two fake hosts, their admin and a member ``member`` of project ``demo``."""
    return await CloudHarness.start(memory_clouds, computes=2)


@pytest.fixture
async def front(harness: CloudHarness) -> AsyncIterator[FrontEnd]:
    """The harness's cloud behind its HTTP server."""
    front = await FrontEnd.start(harness.cloud)
    try:
        yield front
    finally:
        await front.aclose()


@pytest.fixture
async def member(front: FrontEnd) -> AsyncIterator[User]:
    """The member of ``demo``, signed in."""
    user = User(front.url)
    assert (await user.sign_in("member", "demo")).status == 303
    try:
        yield user
    finally:
        await user.aclose()


@pytest.fixture
async def anonymous(front: FrontEnd) -> AsyncIterator[User]:
    """A browser that has not signed in."""
    user = User(front.url)
    try:
        yield user
    finally:
        await user.aclose()


# -- the session --------------------------------------------------------------------------


async def test_signing_in_holds_the_token_in_an_httponly_strict_cookie(
    anonymous: User, front: FrontEnd
) -> None:
    """The sign-in answer sets the session cookie HttpOnly, SameSite=Strict, on
    /dashboard, not Secure over plain HTTP, for the token's lifetime; the token works."""
    signed_in = await anonymous.sign_in("member", "demo")

    assert (signed_in.status, signed_in.headers["Location"]) == (303, "/dashboard/servers")
    cookie = signed_in.cookie("nova_lite_session")
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/dashboard" and not cookie["secure"]
    ttl = front.cloud.config.identity.token_ttl
    assert ttl - 60 <= int(cookie["max-age"]) <= ttl
    token = anonymous.session_token()
    assert (await front.call("GET", "/compute/v2.1/servers", token=token)).status == 200
    page = await anonymous.get("/dashboard/servers")
    assert page.status == 200 and "member @ demo" in page.text


async def test_signing_out_revokes_the_token_and_drops_the_cookie(
    member: User, front: FrontEnd
) -> None:
    """After "Sign out" the token is revoked at identity and pages go to the sign-in form."""
    token = member.session_token()
    page = await member.get("/dashboard/servers")

    signed_out = await member.post("/dashboard/logout", {"csrf_token": page.csrf})

    assert (signed_out.status, signed_out.headers["Location"]) == (303, "/dashboard/login")
    assert signed_out.cookie("nova_lite_session")["max-age"] == "0"
    assert (await front.call("GET", "/compute/v2.1/servers", token=token)).status == 401
    again = await member.get("/dashboard/servers")
    assert (again.status, again.headers["Location"]) == (303, "/dashboard/login")


async def test_the_cookies_are_secure_when_the_dashboard_is_reached_over_tls(
    harness: CloudHarness,
) -> None:
    """Behind an https ``public_url`` (a TLS proxy) both cookies are marked Secure."""
    server = HttpServer(harness.cloud.api, listen="127.0.0.1:0", public_url="https://cloud.test")
    async with server:
        user = User(server.url)
        try:
            form = await user.get("/dashboard/login")
            presession = form.cookie("nova_lite_presession").value  # Secure: not sent over http
            fields = {"csrf_token": form.csrf, "username": "member", "password": PASSWORD}
            signed_in = await user.post(
                "/dashboard/login",
                {**fields, "project": "demo"},
                cookies={"nova_lite_presession": presession},
            )
        finally:
            await user.aclose()

    assert form.cookie("nova_lite_presession")["secure"] is True
    assert signed_in.cookie("nova_lite_session")["secure"] is True


async def test_a_wrong_password_shows_the_form_again_without_a_session(anonymous: User) -> None:
    """A refused sign-in is a 401 page with the form, and sets no session cookie."""
    form = await anonymous.get("/dashboard/login")
    fields = {"csrf_token": form.csrf, "username": "member", "password": "wrong", "project": "demo"}

    refused = await anonymous.post("/dashboard/login", fields)

    assert refused.status == 401 and "Wrong user, password or project." in refused.text
    assert 'id="login"' in refused.text
    with pytest.raises(KeyError):
        refused.cookie("nova_lite_session")


async def test_pages_need_a_valid_session(anonymous: User) -> None:
    """Without a session cookie, or with a token identity does not know, every page sends
    the browser to the sign-in form (and drops the bad cookie)."""
    for path in ("/dashboard/servers", "/dashboard/servers/new", "/dashboard/hosts"):
        page = await anonymous.get(path)
        assert (page.status, page.headers["Location"]) == (303, "/dashboard/login"), path
    anonymous.http.cookie_jar.update_cookies({"nova_lite_session": "not-a-token"})

    page = await anonymous.get("/dashboard/servers")

    assert (page.status, page.headers["Location"]) == (303, "/dashboard/login")
    assert page.cookie("nova_lite_session")["max-age"] == "0"


# -- CSRF -----------------------------------------------------------------------------------


async def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    member: User, harness: CloudHarness
) -> None:
    """Stop with no CSRF field, an empty one, a made-up one, or another session's: 403
    each time, and no action was recorded; with the page's token the stop goes through."""
    server_id = await harness.boot(harness.member)
    page = await member.get("/dashboard/servers")
    other_session = CsrfKey().token_for(member.session_token())  # another process's key

    for csrf in (None, "", "0" * 64, other_session):
        refused = await member.act(server_id, "stop", csrf)
        assert refused.status == 403, csrf
        assert "did not come from this dashboard session" in refused.text
    assert [a.action for a in await harness.member.servers.actions(server_id)] == ["create"]
    assert (await harness.instance(server_id)).task_state is None

    accepted = await member.act(server_id, "stop", page.csrf)

    assert accepted.status == 303
    assert (await harness.wait(server_id, "SHUTOFF")).vm_state == vm_states.STOPPED
    await harness.assert_audit_clean()


async def test_a_launch_and_a_sign_out_without_the_token_are_refused(
    member: User, harness: CloudHarness
) -> None:
    """Launch and sign-out forms are checked too: no server is made, the token lives."""
    form = {"name": "forged", "flavor": "1", "image": "", "network": "", "key_name": ""}

    assert (await member.post("/dashboard/servers", form)).status == 403
    assert (await member.post("/dashboard/logout", {})).status == 403

    assert await harness.member.servers.list() == []
    assert (await member.get("/dashboard/servers")).status == 200


async def test_a_sign_in_form_not_from_this_browser_is_refused(
    anonymous: User, front: FrontEnd
) -> None:
    """A sign-in POST whose CSRF token is not that of the browser's pre-session cookie
    (a form another site made) is 403 and signs no one in."""
    form = await anonymous.get("/dashboard/login")
    fields = {"username": "member", "password": PASSWORD, "project": "demo"}
    stranger = User(front.url)
    try:
        forged = await stranger.post("/dashboard/login", {**fields, "csrf_token": form.csrf})
    finally:
        await stranger.aclose()
    missing = await anonymous.post("/dashboard/login", fields)

    for refused in (forged, missing):
        assert refused.status == 403
        with pytest.raises(KeyError):
            refused.cookie("nova_lite_session")


# -- pages ------------------------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(member: User) -> None:
    """Pages, fragments and static files forbid inline scripts, framing and sniffing, and
    pages are not cached."""
    for path in ("/dashboard/servers", "/dashboard/login", "/dashboard/static/dashboard.js"):
        page = await member.get(path)
        assert page.status == 200, path
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-store"


async def test_only_the_two_static_files_are_served(member: User) -> None:
    """The script and the stylesheet are served with their types; any other name is 404."""
    script = await member.get("/dashboard/static/dashboard.js")
    style = await member.get("/dashboard/static/dashboard.css")

    assert script.headers["Content-Type"].startswith("text/javascript")
    assert style.headers["Content-Type"].startswith("text/css")
    for name in ("render.py", "..%2Fapp.py", "%2e%2e%2Frest.py", "missing.js"):
        assert (await member.get(f"/dashboard/static/{name}")).status == 404, name


async def test_a_server_name_is_shown_not_run(member: User, harness: CloudHarness) -> None:
    """A name with markup appears escaped in the list, the row and the server's page."""
    name = '<script>alert("x")</script>'
    server_id = await harness.boot(harness.member, name=name)

    for path in ("/dashboard/servers", f"/dashboard/servers/{server_id}/row"):
        page = await member.get(path)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text, path
        assert "<script>alert" not in page.text, path
    server = await member.get(f"/dashboard/servers/{server_id}")
    assert "<script>alert" not in server.text


async def test_a_member_sees_only_their_project(member: User, harness: CloudHarness) -> None:
    """Another project's server is absent from the list (even asking for all projects) and
    its page is 404; the hosts and projects pages are 403: the API's answers."""
    theirs = await harness.boot(harness.admin, name="admins-server")
    mine = await harness.boot(harness.member, name="members-server")

    for path in ("/dashboard/servers", "/dashboard/servers?all_projects=1"):
        page = await member.get(path)
        assert f"server-{mine}" in page.text and f"server-{theirs}" not in page.text
    assert (await member.get(f"/dashboard/servers/{theirs}")).status == 404
    assert (await member.get(f"/dashboard/servers/{theirs}/row")).status == 404
    for path in ("/dashboard/hosts", "/dashboard/projects"):
        assert (await member.get(path)).status == 403, path


async def test_a_refused_action_shows_the_apis_reason_and_changes_nothing(
    member: User, harness: CloudHarness
) -> None:
    """Start on an ACTIVE server (an old page's button): 409 with the state table's reason;
    no action is recorded."""
    server_id = await harness.boot(harness.member)
    page = await member.get(f"/dashboard/servers/{server_id}")

    refused = await member.act(server_id, "start", page.csrf)

    assert refused.status == 409
    assert "Cannot &#39;start&#39; instance" in refused.text and "vm_state active" in refused.text
    assert [a.action for a in await harness.member.servers.actions(server_id)] == ["create"]
    assert (await member.act(server_id, "resize-to-anything", page.csrf)).status == 400


async def test_a_launch_the_api_refuses_shows_the_form_again(
    member: User, harness: CloudHarness
) -> None:
    """A launch with no name is the form again with the API's 400 message; nothing built."""
    page = await member.get("/dashboard/servers/new")
    flavor = re.search(r'<option value="([^"]+)"', page.text)
    assert flavor is not None
    form = {"csrf_token": page.csrf, "name": "", "flavor": flavor.group(1)}

    refused = await member.post("/dashboard/servers", {**form, "image": "", "network": ""})

    assert refused.status == 400 and 'id="launch"' in refused.text and 'id="error"' in refused.text
    assert await harness.member.servers.list() == []


async def test_the_launch_form_offers_key_pairs_exactly_when_the_api_serves_them(
    member: User, front: FrontEnd
) -> None:
    """The key pair field is there iff ``GET /os-keypairs`` answers (the API's choice)."""
    token = member.session_token()
    served = (await front.call("GET", "/compute/v2.1/os-keypairs", token=token)).status == 200

    page = await member.get("/dashboard/servers/new")

    assert page.status == 200 and ('id="key_name"' in page.text) == served
    for field in ('id="flavor"', 'id="image"', 'id="network"', "m1.tiny", "cirros", "private"):
        assert field in page.text


async def test_every_page_is_made_of_http_api_calls(member: User, harness: CloudHarness) -> None:
    """The API requests behind a server's page are HTTP requests to its routes, each
    carrying the page's request id as its global request id."""
    server_id = await harness.boot(harness.member)

    with capture_logs() as events:
        page = await member.get(f"/dashboard/servers/{server_id}")

    assert page.status == 200
    requests = events_named(events, "http.request")
    [outer] = [e for e in requests if e["path"] == f"/dashboard/servers/{server_id}"]
    inner = {e["path"] for e in requests if e.get("global_request_id") == outer["request_id"]}
    assert {
        "/v3/auth/tokens",
        f"/compute/v2.1/servers/{server_id}",
        f"/compute/v2.1/servers/{server_id}/action",
        f"/compute/v2.1/servers/{server_id}/os-instance-actions",
    } <= inner


async def test_an_admin_sees_hosts_and_every_projects_usage(
    front: FrontEnd, harness: CloudHarness
) -> None:
    """The hosts page has three bars per host; the projects page counts each project's
    servers; the all-projects list names each server's project."""
    server_id = await harness.boot(harness.member)
    admin = User(front.url)
    try:
        await admin.sign_in("admin", "admin")
        hosts = await admin.get("/dashboard/hosts")
        projects = await admin.get("/dashboard/projects")
        everyone = await admin.get("/dashboard/servers?all_projects=1")
    finally:
        await admin.aclose()

    assert hosts.text.count("<meter") == 3 * len(harness.hosts)
    assert re.search(r"<td>demo</td>.*?>1</a>", projects.text, re.S)
    assert re.search(
        rf'id="server-{server_id}".*?<td class="project">demo</td>', everyone.text, re.S
    )


def test_usage_by_project_adds_up_each_projects_servers() -> None:
    """Servers, vCPUs and RAM are summed per project; a project with none shows zeros."""
    projects = [{"id": "p1", "name": "b"}, {"id": "p2", "name": "a"}]
    servers = [
        {"project_id": "p1", "vcpus": 2, "ram": 512},
        {"project_id": "p1", "vcpus": 1, "ram": 256},
    ]

    rows = usage_by_project(projects, servers)

    assert [(r["name"], r["servers"], r["vcpus"], r["ram"]) for r in rows] == [
        ("a", 0, 0, 0),
        ("b", 2, 3, 768),
    ]


# -- the actions offered ----------------------------------------------------------------------

TASKS = (None, task_states.POWERING_OFF, task_states.REBOOTING, task_states.RESIZE_PREP)


@pytest.mark.parametrize("vm_state", vm_states.ALL)
def test_the_actions_offered_are_those_the_api_would_accept(vm_state: str) -> None:
    """For every vm_state, task_state, launch, lock and role, a button is offered exactly
    when `check_instance_state` (what the API runs) lets its action through."""
    flags = (False, True)
    for task, launched, locked, admin in itertools.product(TASKS, flags, flags, flags):
        instance = objects.Instance(
            uuid="7a2b8c1e-5d6a-4b7c-9e8f-0a1b2c3d4e5f",
            display_name="vm",
            project_id="p1",
            user_id="u1",
            flavor=objects.Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1),
            image_ref="img",
            vm_state=vm_state,
            task_state=task,
            launched_at=objects.utcnow() if launched else None,
            locked=locked,
        )
        ctx = RequestContext(user_id="u1", project_id="p1", is_admin=admin)
        view = {"vm_state": vm_state, "task_state": task, "locked": locked}
        view["launched_at"] = "2026-01-01T00:00:00.000000" if launched else None

        offered = {a.name for a in allowed_actions(view, is_admin=admin)}

        expected = set()
        for action in ACTIONS.values():
            if action.when_locked is not None and action.when_locked != locked:
                continue
            try:
                check_instance_state(ctx, instance, action.rule_name)
            except Conflict:
                continue
            expected.add(action.name)
        assert offered == expected, (vm_state, task, launched, locked, admin)


def test_every_dashboard_action_names_a_rule_of_the_state_table() -> None:
    """Each button obeys an entry of RULES; none invents states of its own."""
    assert {a.rule_name for a in ACTIONS.values()} <= set(RULES)
