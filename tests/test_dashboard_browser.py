"""The dashboard in a real browser: headless Chromium (Debian's) driven by selenium.

A cloud is served over HTTP on a free port and a browser signs in, launches a
server, watches its row turn ACTIVE (the page's own script polls it), stops it and
sees SHUTOFF, reads its page and deletes it; a member of another project sees none
of it; an administrator sees every project and the hosts' utilization. Every wait is
for something the page shows, bounded by `WAIT`; none is a sleep. Screenshots of the
main pages go to the test's temporary directory, or to ``NOVA_LITE_TEST_SCREENSHOTS``
when set (``docs/dashboard.png`` is ``all-projects.png`` from such a run).

Chromium and chromedriver come from ``scripts/setup-browser`` (CI runs it); without
them the module is skipped with the reason, and under ``CI=true`` it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from nova_lite.testing import PASSWORD, WAIT, CloudFactory, CloudHarness
from tests.conftest import IN_CI
from tests.http_fixtures import FrontEnd

T = TypeVar("T")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WINDOW = "1200,560"

if CHROMIUM is None or CHROMEDRIVER is None:
    reason = "chromium and chromedriver are not installed; run scripts/setup-browser"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: .ci/run should have run it).")
    pytest.skip(reason, allow_module_level=True)


def _chromium() -> WebDriver:
    """A headless Chromium with a fresh profile, driven through Debian's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace to sandbox in
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW}",
        "--lang=en",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


class Browser:
    """One browser on the dashboard: every blocking WebDriver call runs in a thread, so
    the cloud serving the pages keeps running in the test's event loop meanwhile."""

    def __init__(self, driver: WebDriver, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base
        self.shots = shots

    def __repr__(self) -> str:
        return f"<Browser {self.base}>"

    async def run(self, work: Callable[[WebDriver], T]) -> T:
        """`work` done with the driver, in a thread."""
        return await asyncio.to_thread(work, self.driver)

    async def open(self, path: str) -> None:
        """Go to `path` of the dashboard's server."""
        await self.run(lambda d: d.get(self.base + path))

    async def until(self, condition: Callable[[WebDriver], T | None], what: str) -> T:
        """Wait (at most `WAIT`) until the page shows `condition` (a value, not None/False)."""
        ignored = (NoSuchElementException, StaleElementReferenceException)
        wait = WebDriverWait(self.driver, WAIT, poll_frequency=0.1, ignored_exceptions=ignored)

        def shown(driver: WebDriver) -> T | Literal[False]:
            value = condition(driver)
            return False if value is None else value

        def waited(_: WebDriver) -> T:
            return wait.until(shown, f"the page never showed {what}")

        return await self.run(waited)

    async def text(self, css: str) -> str:
        """The text of the first element matching `css`."""
        return await self.run(lambda d: str(d.find_element(By.CSS_SELECTOR, css).text))

    async def count(self, css: str) -> int:
        """How many elements match `css`."""
        return await self.run(lambda d: len(d.find_elements(By.CSS_SELECTOR, css)))

    async def fill(self, form: str, fields: dict[str, str], *, submit: str) -> None:
        """Type `fields` into the form `form` (by input id), then click `submit`."""

        def work(driver: WebDriver) -> None:
            for name, value in fields.items():
                field = driver.find_element(By.CSS_SELECTOR, f"{form} #{name}")
                field.clear()
                field.send_keys(value)
            driver.find_element(By.CSS_SELECTOR, submit).click()

        await self.run(work)

    async def sign_in(self, user: str, project: str, *, screenshot: bool = False) -> None:
        """Sign in through the form (photographed first if asked), and wait for the
        servers page."""
        await self.open("/dashboard")
        await self.until(lambda d: d.find_element(By.ID, "login"), "the sign-in form")
        if screenshot:
            await self.screenshot("login")
        fields = {"username": user, "password": PASSWORD, "project": project}
        await self.fill("#login", fields, submit="#login button[type=submit]")
        await self.until(lambda d: f"{user} @ {project}" in d.find_element(By.ID, "who").text, user)

    async def sign_out(self) -> None:
        """Press "Sign out" and wait for the sign-in form."""
        await self.run(lambda d: d.find_element(By.ID, "logout").click())
        await self.until(lambda d: d.find_element(By.ID, "login"), "the sign-in form")

    async def row_status(self, server_id: str, status: str) -> None:
        """Wait until the server's row in the list shows `status` with no task running."""

        def shows(driver: WebDriver) -> bool:
            row = driver.find_element(By.ID, f"server-{server_id}")
            settled = row.get_attribute("data-poll") is None
            return row.get_attribute("data-status") == status and settled

        await self.until(shows, f"server {server_id} {status}")

    async def row_shows(self, server_id: str, status: str, *, task: str = "") -> None:
        """Wait until the server's row shows `status` (and `task`) while still changing."""

        def shows(driver: WebDriver) -> bool:
            row = driver.find_element(By.ID, f"server-{server_id}")
            changing = row.get_attribute("data-poll") is not None
            tasks = row.find_elements(By.CSS_SELECTOR, "span.task")
            shown = tasks[0].text if tasks else ""
            return row.get_attribute("data-status") == status and changing and task in shown

        await self.until(shows, f"server {server_id} {status} {task}")

    async def mark_page(self) -> None:
        """Leave a mark on the page the browser shows now (gone if the page is reloaded)."""
        await self.run(lambda d: d.execute_script("window.novaLiteTestMark = true;"))

    async def page_is_marked(self) -> bool:
        """Whether the browser still shows the page `mark_page` marked."""
        return bool(await self.run(lambda d: d.execute_script("return !!window.novaLiteTestMark;")))

    async def press(self, server_id: str, action: str) -> None:
        """Press the action's button in the server's row (accepting its confirmation)."""

        def work(driver: WebDriver) -> None:
            row = driver.find_element(By.ID, f"server-{server_id}")
            row.find_element(By.CSS_SELECTOR, f"button.action-{action}").click()
            if action == "delete":
                WebDriverWait(driver, WAIT).until(lambda d: d.switch_to.alert).accept()

        await self.run(work)

    async def screenshot(self, name: str) -> Path:
        """The page as it is now, saved as ``<name>.png``."""
        path = self.shots / f"{name}.png"
        await self.run(lambda d: d.save_screenshot(str(path)))
        return path


def _row_ids(driver: WebDriver) -> list[str]:
    return [str(r.get_attribute("id")) for r in driver.find_elements(By.CSS_SELECTOR, "tr.server")]


def _server_of(name: str) -> Callable[[WebDriver], str | None]:
    """The id of the server named `name` in the list, once its row is there."""

    def find(driver: WebDriver) -> str | None:
        for row in driver.find_elements(By.CSS_SELECTOR, "tr.server"):
            if row.find_element(By.CSS_SELECTOR, "td.name").text == name:
                return str(row.get_attribute("id")).removeprefix("server-")
        return None

    return find


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``NOVA_LITE_TEST_SCREENSHOTS``, else the test's tmp dir."""
    chosen = os.environ.get("NOVA_LITE_TEST_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def harness(memory_clouds: CloudFactory) -> AsyncIterator[CloudHarness]:
    """Two fake hosts, their admin and a member ``member`` of project ``demo``."""
    yield await CloudHarness.start(memory_clouds, computes=2)


@pytest.fixture
async def front(harness: CloudHarness) -> AsyncIterator[FrontEnd]:
    """The harness's cloud behind its HTTP server (the dashboard at /dashboard)."""
    front = await FrontEnd.start(harness.cloud)
    try:
        yield front
    finally:
        await front.aclose()


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    """A headless Chromium, quit after the test."""
    chromium = _chromium()
    try:
        yield chromium
    finally:
        chromium.quit()


@pytest.fixture
def browser(driver: WebDriver, front: FrontEnd, shots: Path) -> Browser:
    """The browser, pointed at the front end."""
    return Browser(driver, front.url, shots)


async def test_a_member_boots_stops_and_deletes_a_server_in_the_browser(
    browser: Browser, harness: CloudHarness
) -> None:
    """Sign in, launch, see BUILD while the spawn is held and watch the same page turn
    ACTIVE once it is released; stop likewise (held power-off, then SHUTOFF); read the
    server's page (instance actions, console), delete it; the cloud's books end clean."""
    await browser.sign_in("member", "demo", screenshot=True)
    await browser.screenshot("servers-empty")
    await browser.open("/dashboard/servers/new")
    await browser.until(lambda d: d.find_element(By.ID, "launch"), "the launch form")
    await browser.run(lambda d: Select(d.find_element(By.ID, "flavor")).select_by_index(0))
    await browser.screenshot("launch")
    with harness.faults().hold("spawn") as spawning:
        await browser.fill("#launch", {"name": "web1"}, submit="#launch-button")
        server_id = await browser.until(_server_of("web1"), "the new server's row")
        await spawning.wait_reached()
        await browser.row_shows(server_id, "BUILD")
        await browser.screenshot("servers-building")
        await browser.mark_page()
    await browser.row_status(server_id, "ACTIVE")  # brought here by the row's own polling
    assert await browser.page_is_marked()  # the same page: it was never reloaded
    await browser.screenshot("servers")
    assert (await harness.instance(server_id)).vm_state == "active"

    with harness.faults().hold("power_off") as powering_off:
        await browser.press(server_id, "stop")
        await powering_off.wait_reached()
        await browser.row_shows(server_id, "ACTIVE", task="powering-off")
        await browser.mark_page()
    await browser.row_status(server_id, "SHUTOFF")
    assert await browser.page_is_marked()
    assert await browser.count(f"#server-{server_id} button.action-start") == 1
    assert await browser.count(f"#server-{server_id} button.action-stop") == 0

    await browser.run(lambda d: d.find_element(By.LINK_TEXT, "web1").click())
    await browser.until(lambda d: d.find_element(By.ID, "instance-actions"), "the actions")
    actions = await browser.text("#instance-actions")
    assert "create" in actions and "stop" in actions
    assert await browser.count("#console") == 1
    await browser.screenshot("server")

    await browser.open("/dashboard/servers")
    await browser.press(server_id, "delete")
    await browser.until(lambda d: f"server-{server_id}" not in _row_ids(d), "the row gone")
    await harness.wait(server_id, "DELETED")
    await harness.assert_nothing_leaked(server_id)
    await harness.assert_audit_clean()
    await browser.sign_out()


async def test_a_member_sees_no_server_of_another_project(
    browser: Browser, harness: CloudHarness
) -> None:
    """A member of another project sees an empty list, gets "not found" for the admin's
    server's page and "forbidden" for the hosts; the admin's server is untouched."""
    server_id = await harness.boot(harness.admin)
    await harness.add_user("outsider", project="elsewhere")

    await browser.sign_in("outsider", "elsewhere")
    assert await browser.count("tr.server") == 0
    assert await browser.count("#no-servers") == 1
    await browser.open(f"/dashboard/servers/{server_id}")
    assert "could not be found" in await browser.text("#error")
    await browser.open("/dashboard/hosts")
    assert "doesn't allow" in await browser.text("#error")
    assert (await harness.instance(server_id)).vm_state == "active"


async def test_an_admin_sees_every_project_and_the_hosts(
    browser: Browser, harness: CloudHarness
) -> None:
    """The admin's "All projects" lists the member's server with its project's name; the
    hosts page has a vCPU, RAM and disk bar per host, the busy host's vCPUs in use."""
    server_id = await harness.boot(harness.member, name="web1")
    host = (await harness.instance(server_id)).host
    stopped = await harness.boot(harness.admin, name="db1")
    await harness.admin.servers.stop(stopped)
    await harness.wait(stopped, "SHUTOFF")

    await browser.sign_in("admin", "admin")
    await browser.open("/dashboard/servers?all_projects=1")
    await browser.row_status(server_id, "ACTIVE")
    await browser.row_status(stopped, "SHUTOFF")
    assert await browser.text(f"#server-{server_id} td.project") == "demo"
    assert await browser.text(f"#server-{stopped} td.project") == "admin"
    await browser.screenshot("all-projects")  # docs/dashboard.png
    await browser.open("/dashboard/hosts")
    assert await browser.count("#hosts meter") == 3 * 2
    hosts = [host, (await harness.instance(stopped)).host]
    for name in harness.hosts:
        used = await browser.text(f"#host-{name} td.vcpus")
        assert used.startswith(f"{hosts.count(name)} / "), (name, used)
    await browser.screenshot("hosts")
    await browser.open("/dashboard/projects")
    assert "demo" in await browser.text("#projects")
    await browser.screenshot("projects")


async def test_a_form_without_its_csrf_token_is_refused_in_the_browser(
    browser: Browser, harness: CloudHarness
) -> None:
    """Stop pressed with the form's CSRF field removed: 403 page, the server still runs."""
    server_id = await harness.boot(harness.member)
    await browser.sign_in("member", "demo")
    await browser.row_status(server_id, "ACTIVE")

    def strip_and_press(driver: WebDriver) -> None:
        row = driver.find_element(By.ID, f"server-{server_id}")
        button: WebElement = row.find_element(By.CSS_SELECTOR, "button.action-stop")
        script: Any = "arguments[0].form.querySelector('[name=csrf_token]').remove()"
        driver.execute_script(script, button)
        button.click()

    await browser.run(strip_and_press)
    await browser.until(lambda d: d.find_element(By.ID, "error"), "the refusal")
    assert "did not come from this dashboard" in await browser.text("#error")
    assert (await harness.instance(server_id)).vm_state == "active"
    await harness.assert_audit_clean()
