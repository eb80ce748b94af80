"""The conformance runner's own logic, without Tempest: selection, outcomes, causes, reports.

What needs Tempest itself (the runner against a live cloud, the subunit reader) is
in `tests/test_tempest_ci.py`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import accounts, groups, interop
from conformance.causes import Routes, cause_of, normalise_path, worklist
from conformance.cli import expected_passed
from conformance.cloud import ENABLED_FILTERS, CloudSettings, config_text
from conformance.discovery import Discovered
from conformance.outcomes import Outcome, classify, first_line, module_of
from conformance.report import group_rows, rows, table_markdown, table_text, write
from conformance.tempest_conf import TempestSettings, build, off_switches, render

REPO = Path(__file__).resolve().parent.parent
MARKDOWN = REPO.parent / "shared" / "interop-2020.06-required.md"

SERVERS = "tempest.api.compute.servers.test_servers.ServersTestJSON"
ID = "[id-5e6ccff8-a4ef-4cd8-aa49-d8e31e1e1ab0]"


def record(test_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """A record as `conformance.subunit_json` writes it."""
    return {"id": test_id, "status": status, "reason": "", "traceback": "", "requests": []} | fields


def traceback(*lines: str) -> str:
    """A traceback as Tempest's subunit stream carries it: frames indented, the error not."""
    frames = '  File "x.py", line 1, in test\n    call()\n'
    return "Traceback (most recent call last):\n" + frames + "\n".join(lines) + "\n"


# -- selection -------------------------------------------------------------------------


def test_a_group_selects_every_test_whose_id_starts_with_it() -> None:
    """``network.test_routers`` also holds the negative module, as Tempest's --regex does."""
    pattern = re.compile(groups.group_regex("network.test_routers"))
    assert pattern.search("tempest.api.network.test_routers.RoutersTest.test_x[id-1]")
    assert pattern.search("tempest.api.network.test_routers_negative.RoutersNegativeTest.test_y")
    assert not pattern.search("tempest.api.network.admin.test_routers.RoutersAdminTest.test_z")


def test_a_star_in_a_group_is_any_characters_and_dots_are_literal() -> None:
    """``compute.admin.test_hypervisor*`` holds the negative module; a dot is not any character."""
    pattern = re.compile(groups.group_regex("compute.admin.test_hypervisor*"))
    assert pattern.search(
        "tempest.api.compute.admin.test_hypervisor_negative.HypervisorAdminNegativeTestJSON.t"
    )
    assert not re.search(
        groups.group_regex("compute.limits"), "tempest.api.computeXlimits.test_a.A.t"
    )


def test_all_selects_the_api_tests_but_object_storage() -> None:
    """The ``all`` set leaves out Swift's tests (nova_lite has no object storage)."""
    (pattern,) = map(re.compile, groups.include_list("all"))
    assert pattern.search("tempest.api.volume.test_volumes_get.VolumesGetTest.test_a")
    assert not pattern.search("tempest.api.object_storage.test_container_services.C.test_a")
    assert not pattern.search("tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_a")


def test_an_exact_regex_selects_one_test_whatever_its_tags() -> None:
    """The interop and CI lists select a test by name, with or without its ``[id-...]`` tags."""
    pattern = re.compile(groups.exact_regex(SERVERS + ".test_update_server_name"))
    assert pattern.search(SERVERS + ".test_update_server_name" + ID)
    assert pattern.search(SERVERS + ".test_update_server_name")
    assert not pattern.search(SERVERS + ".test_update_server_name_length_exceeds_256" + ID)


def test_the_issue_groups_end_with_its_core_total() -> None:
    """The issue report's group rows end with the nine groups the issue measured, together."""
    patterns = groups.group_patterns("issue")
    assert [label for label, _ in patterns[:-1]] == list(groups.ISSUE_GROUPS)
    assert patterns[-1][0] == "the issue's nine core groups"
    core = re.compile(patterns[-1][1])
    assert core.search("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token")
    assert not core.search("tempest.api.compute.keypairs.test_keypairs.KeyPairsV2TestJSON.t")


def test_the_ci_list_is_a_list_of_names_without_tags() -> None:
    """Every line of the CI expected-pass list is a test name (the runner selects it exactly)."""
    names = groups.read_test_list(groups.CI_EXPECTED_PASS)
    assert names, "the CI subset is empty"
    assert all(n.startswith("tempest.api.") and "[" not in n for n in names)
    assert len(names) == len(set(names))


# -- the interop list ------------------------------------------------------------------


def test_the_interop_list_has_the_guidelines_sixty_capabilities() -> None:
    """The checked-in list holds 2020.06's 60 required capabilities and 228 tests."""
    tests = interop.load()
    assert len({t.capability for t in tests}) == 60
    assert len(tests) == 228
    assert all(re.fullmatch(r"[0-9a-f-]{36}", t.idempotent_id) for t in tests)


@pytest.mark.skipif(not MARKDOWN.exists(), reason=f"{MARKDOWN} is not here")
def test_the_interop_list_agrees_with_the_shared_markdown() -> None:
    """Each compute, image and network test of the markdown is in the list alike, and no other."""
    assert interop.markdown_disagreements(interop.load(), MARKDOWN.read_text()) == []


def test_a_disagreement_with_the_markdown_is_reported() -> None:
    """A test whose flag differs from the markdown's is named (the check can fail)."""
    first = interop.load()[0]
    markdown = f"| {first.capability} | `{first.short}` {first.idempotent_id[:8]} |"
    assert interop.markdown_disagreements([first], markdown) == []
    flagged = interop.InteropTest(first.capability, first.name, first.idempotent_id, True)
    assert len(interop.markdown_disagreements([flagged], markdown)) == 1


def test_a_capability_passes_when_its_unflagged_tests_pass() -> None:
    """Flagged tests do not count; one failure fails it; skips alone make it "skip".

    A capability whose tests are all flagged is "flagged only", not a pass.
    """
    tests = [
        interop.InteropTest("a", "t.a1", "1", False),
        interop.InteropTest("a", "t.a2", "2", True),
        interop.InteropTest("b", "t.b1", "3", False),
        interop.InteropTest("c", "t.c1", "4", False),
        interop.InteropTest("d", "t.d1", "5", False),
        interop.InteropTest("e", "t.e1", "6", True),
    ]
    outcomes = {"t.a1": "passed", "t.a2": "failed", "t.b1": "failed", "t.c1": "skipped"}
    verdicts = {v.capability: v.verdict for v in interop.capability_verdicts(tests, outcomes)}
    assert verdicts == {"a": "pass", "b": "fail", "c": "skip", "d": "not run", "e": "flagged only"}


# -- outcomes --------------------------------------------------------------------------


def test_reported_tests_take_their_own_status() -> None:
    """success and xfail pass, fail and uxsuccess fail, skip skips; the tags are dropped."""
    records = [
        record(f"{SERVERS}.test_a{ID}", "success"),
        record(f"{SERVERS}.test_b{ID}", "fail", traceback=traceback("AssertionError: 1 != 2")),
        record(f"{SERVERS}.test_c{ID}", "skip", reason="Resize not available."),
        record(f"{SERVERS}.test_d{ID}", "uxsuccess"),
    ]
    outcomes = classify([r["id"] for r in records], records)
    assert [(o.name.rsplit(".", 1)[1], o.outcome) for o in outcomes] == [
        ("test_a", "passed"),
        ("test_b", "failed"),
        ("test_c", "skipped"),
        ("test_d", "failed"),
    ]
    assert outcomes[1].reason == "AssertionError: 1 != 2"
    assert outcomes[2].reason == "Resize not available."


def test_an_unreported_test_takes_its_classs_set_up_fate() -> None:
    """A class set-up that skipped skips its tests; one that failed leaves them not run."""
    skipped_class = "tempest.api.compute.keypairs.test_keypairs.KeyPairsV2TestJSON"
    failed_class = "tempest.api.compute.admin.test_services.ServicesAdminTestJSON"
    records = [
        record(f"setUpClass ({skipped_class})", "skip", reason="Extension not enabled"),
        record(
            f"setUpClass ({failed_class})",
            "fail",
            traceback=traceback("tempest.lib.exceptions.InvalidCredentials: Invalid Credentials"),
        ),
    ]
    selected = [
        f"{skipped_class}.test_list{ID}",
        f"{failed_class}.test_list{ID}",
        f"{SERVERS}.test_x",
    ]
    outcomes = classify(selected, records)
    assert [o.outcome for o in outcomes] == ["skipped", "not run", "not run"]
    assert outcomes[0].reason == "Extension not enabled"
    assert outcomes[1].reason.startswith(
        "setUpClass failed: tempest.lib.exceptions.InvalidCredentials"
    )
    assert outcomes[2].reason.startswith("never reported")


def test_a_test_cut_short_by_the_timeout_was_not_run() -> None:
    """A test still in progress when the stream ended is not run, not failed."""
    (outcome,) = classify(
        [f"{SERVERS}.test_a{ID}"], [record(f"{SERVERS}.test_a{ID}", "inprogress")]
    )
    assert (outcome.outcome, outcome.reason) == ("not run", "interrupted: never finished")


def test_a_failures_first_line_is_its_last_exception_with_tempests_details() -> None:
    """Of a chained traceback, the last exception and its ``Details:`` line are kept."""
    text = traceback(
        "jsonschema.exceptions.ValidationError: 'id' is a required property",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "rest_client.py", line 9, in validate',
        "tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid json or xml",
        "Details: HTTP response body is invalid ('id' is a required property)",
        "On instance['server']:",
    )
    line = first_line(record("t", "fail", traceback=text))
    assert line == (
        "tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid json or"
        " xml Details: HTTP response body is invalid ('id' is a required property)"
    )


def test_a_tests_module_is_its_path_under_tempest_api() -> None:
    """The table's rows are modules: ``compute.servers.test_servers``, ``compute.test_versions``."""
    assert module_of(SERVERS + ".test_a") == "compute.servers.test_servers"
    assert (
        module_of("tempest.api.compute.test_versions.TestVersions.test_list")
        == "compute.test_versions"
    )


# -- causes ----------------------------------------------------------------------------

BASE = "http://127.0.0.1:8774"


def failed(traceback_lines: tuple[str, ...], requests: list[list[str]]) -> Outcome:
    """A failed outcome with its traceback and logged requests."""
    rec = record(
        f"{SERVERS}.test_a{ID}", "fail", traceback=traceback(*traceback_lines), requests=requests
    )
    (outcome,) = classify([rec["id"]], [rec])
    return outcome


NOT_FOUND = ("tempest.lib.exceptions.NotFound: Object not found", "Details: {'code': 404}")


def test_a_404_from_a_route_nova_lite_does_not_serve_is_a_missing_route() -> None:
    """The route is named with its ids replaced; the openapi spec tells it is not served."""
    uuid = "2a7d98a8-a419-476f-b149-4cdc10d74d62"
    requests = [
        ["ServersTestJSON:test_a", "202", "POST", f"{BASE}/compute/v2.1/servers"],
        [
            "ServersTestJSON:test_a",
            "404",
            "GET",
            f"{BASE}/compute/v2.1/servers/{uuid}/os-interface",
        ],
    ]
    cause = cause_of(failed(NOT_FOUND, requests), Routes())
    assert (cause.cause, cause.key) == (
        "missing route",
        "GET /compute/v2.1/servers/{id}/os-interface",
    )


def test_a_404_on_a_served_route_is_a_refusal_not_a_missing_route() -> None:
    """A served route answering 404 (a resource it cannot find) is "request refused (404)"."""
    lines = (NOT_FOUND[0], "Details: {'code': 404, 'message': \"Image '-1' could not be found.\"}")
    requests = [["ServersTestJSON:test_a", "404", "GET", f"{BASE}/compute/v2.1/servers/abc"]]
    cause = cause_of(failed(lines, requests), Routes())
    assert cause == cause_of(failed(lines, requests), Routes())
    assert cause.cause == "request refused (404)"
    assert "could not be found" in cause.key


def test_requests_of_cleanups_are_not_the_cause() -> None:
    """A 404 in ``_run_cleanups`` (a server already gone) does not make a missing route."""
    requests = [["ServersTestJSON:_run_cleanups", "404", "GET", f"{BASE}/compute/v2.1/os-nothing"]]
    lines = ("testtools.matchers._impl.MismatchError: 4 != 3",)
    cause = cause_of(failed(lines, requests), Routes())
    assert cause.cause == "wrong response content"


def test_schema_and_status_code_failures_name_the_route() -> None:
    """A refused body and a wrong success code each name the last request's route."""
    requests = [
        ["ServersTestJSON:test_a", "202", "POST", f"{BASE}/compute/v2.1/servers/abc/action"]
    ]
    schema = failed(
        (
            "tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid",
            "Details: HTTP response body is invalid ('key_name' was unexpected)",
        ),
        requests,
    )
    code = failed(
        (
            "tempest.lib.exceptions.InvalidHttpSuccessCode: The success code is different than the"
            " expected one",
            "Details: The status code(202) is different than the expected one([200])",
        ),
        requests,
    )
    assert cause_of(schema, Routes()).cause == "non-conforming response schema"
    assert cause_of(schema, Routes()).key.startswith("POST /compute/v2.1/servers/abc/action: ")
    assert (
        cause_of(code, Routes()).key
        == "POST /compute/v2.1/servers/abc/action: 202 instead of [200]"
    )


def test_the_worklist_counts_tests_per_cause_largest_first() -> None:
    """Two tests blocked by one missing route outweigh one wrong status code."""
    route = [["C:test_a", "404", "GET", f"{BASE}/compute/v2.1/os-no-such-thing"]]
    outcomes = [
        failed(NOT_FOUND, route),
        failed(NOT_FOUND, route),
        failed(("AssertionError: x",), []),
    ]
    items = worklist(outcomes, Routes())
    assert [(i.cause, i.tests) for i in items] == [
        ("missing route", 2),
        ("wrong response content", 1),
    ]
    assert items[0].keys == (("GET /compute/v2.1/os-no-such-thing", 2),)


def test_ids_in_paths_are_replaced() -> None:
    """Uuids, hex ids and numbers become ``{id}``; the query is dropped."""
    url = f"{BASE}/volume/v3/0123456789abcdef0123456789abcdef/volumes/12?limit=2"
    assert normalise_path(url) == "/volume/v3/{id}/volumes/{id}"


# -- the report ------------------------------------------------------------------------


def outcome(name: str, result: str) -> Outcome:
    """An outcome with no record."""
    return Outcome(name, result)


SAMPLE = [
    outcome("tempest.api.compute.flavors.test_flavors.F.test_a", "passed"),
    outcome("tempest.api.compute.flavors.test_flavors.F.test_b", "failed"),
    outcome("tempest.api.compute.flavors.test_flavors.F.test_c", "skipped"),
    outcome("tempest.api.image.v2.test_images.I.test_a", "passed"),
    outcome("tempest.api.image.v2.test_images.I.test_b", "not run"),
]


def test_the_table_counts_each_module_and_the_pass_rate_of_what_ran() -> None:
    """Passed over passed plus failed; skipped and not run do not count against it."""
    table, total = rows(SAMPLE)
    assert [(r.module, r.passed, r.failed, r.skipped, r.not_run) for r in table] == [
        ("compute.flavors.test_flavors", 1, 1, 1, 0),
        ("image.v2.test_images", 1, 0, 0, 1),
    ]
    assert (total.passed, total.failed, total.skipped, total.not_run) == (2, 1, 1, 1)
    assert total.pass_rate == pytest.approx(2 / 3)
    assert "| **total** | **2** | **1** | **1** | **1** | **67%** |" in table_markdown(table, total)
    assert table_text(table, total).splitlines()[-1].split() == ["total", "2", "1", "1", "1", "67%"]


def test_group_rows_total_the_tests_each_group_selects() -> None:
    """A group row counts the tests its regex selects."""
    (row,) = group_rows(SAMPLE, [("compute.flavors", groups.group_regex("compute.flavors"))])
    assert (row.module, row.passed, row.failed, row.skipped) == ("compute.flavors", 1, 1, 1)


def test_the_report_files_are_sorted_for_diffing(tmp_path: Path) -> None:
    """tests.tsv and failures.txt are sorted by test name, failures with their outcome."""
    write(tmp_path, list(reversed(SAMPLE)), Routes(), title="t")
    tsv = (tmp_path / "tests.tsv").read_text().splitlines()
    assert tsv == sorted(tsv) and len(tsv) == 5
    failures = (tmp_path / "failures.txt").read_text().splitlines()
    assert [line.split(" ")[1] for line in failures] == ["[failed]:", "[not"]
    assert (tmp_path / "summary.md").read_text().startswith("# t\n\n2 passed, 1 failed")


# -- tempest.conf and the accounts -----------------------------------------------------

DISCOVERED = Discovered(
    image_ref="i1",
    image_ref_alt="i2",
    compute_microversions=("2.1", "2.79"),
    volume_microversions=("3.0", "3.0"),
    network_extensions=(),
    volume_extensions=(),
)


def settings(accounts_file: Path | None) -> TempestSettings:
    """Settings for a cloud at 127.0.0.1:8774."""
    return TempestSettings(BASE, Path("/w"), DISCOVERED, accounts_file, ("admin", "pw", "admin"))


def test_every_off_switch_says_why_and_is_in_the_readme() -> None:
    """Each feature switched off has its reason, and the README lists it as not served."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("### What Tempest is told is not served", 1)[1].split("\n## ", 1)[0]
    switches = off_switches(build(settings(Path("/w/etc/accounts.yaml"))))
    assert len(switches) > 20
    for section_name, option in switches:
        assert option.why, f"[{section_name}] {option.name} has no reason"
        assert f"`[{section_name}] {option.name}`" in section, f"[{section_name}] {option.name}"


def test_the_reasons_are_comments_above_their_options() -> None:
    """The generated file carries each reason as a comment on the line above."""
    text = render(build(settings(Path("/w/etc/accounts.yaml"))))
    lines = text.splitlines()
    index = lines.index("personality = false")
    assert lines[index - 1] == "# file injection (personality) is not served"
    assert "uri_v3 = http://127.0.0.1:8774/v3" in lines
    assert "max_microversion = 2.79" in lines


def test_tempest_is_told_the_filters_the_cloud_is_started_with() -> None:
    """The cloud's TOML enables the hint filters; tempest.conf names exactly its filters."""
    text = render(build(settings(Path("/w/etc/accounts.yaml"))))
    cloud = tomllib.loads(config_text(CloudSettings(Path("/w"), "amqp://x"), 1))
    (told,) = [line for line in text.splitlines() if line.startswith("scheduler_enabled_filters")]

    assert cloud["scheduler"]["enabled_filters"] == list(ENABLED_FILTERS)
    assert told == "scheduler_enabled_filters = " + ",".join(ENABLED_FILTERS)
    assert {"SameHostFilter", "DifferentHostFilter"} <= set(ENABLED_FILTERS)


def test_dynamic_credentials_give_tempest_the_admin_instead_of_accounts() -> None:
    """With no accounts file Tempest gets the admin's credentials and makes its own."""
    (auth,) = [s for s in build(settings(None)) if s.name == "auth"]
    values = {o.name: o.value for o in auth.options}
    assert values["use_dynamic_credentials"] == "true"
    assert (values["admin_username"], values["admin_project_name"]) == ("admin", "admin")
    assert "test_accounts_file" not in values


def test_the_accounts_cover_concurrent_workers_members_first() -> None:
    """Per worker two member projects with readers and managers, two service users
    (admin and service: a class's admin may be one), an admin and a system reader
    each, plus one spare of each."""
    planned = accounts.plan(2)
    roles = [a.role for a in planned]
    assert roles == (
        ["member"] * 5 + ["reader"] * 5 + ["admin"] * 3 + ["manager"] * 5 + ["admin"] * 5
        + ["reader"] * 3
    )  # fmt: skip
    services = [a for a in planned if a.also]
    assert [a.roles for a in services] == [["admin", "service"]] * 5
    assert len({a.project for a in services}) == 5
    assert [a.system for a in planned].count(True) == 3
    members = {a.project for a in planned if a.role == "member"}
    assert members == {a.project for a in planned if a.role == "reader" and not a.system}
    entries = yaml.safe_load(accounts.accounts_yaml(planned))
    assert entries[0]["roles"] == ["member"] and entries[0]["domain_name"] == "Default"
    assert entries[-1]["system"] == "all" and "project_name" not in entries[-1]
    assert entries[-4]["roles"] == ["admin", "service"]
    assert len({e["password"] for e in entries}) == len(entries)


def test_expect_pass_fails_on_a_listed_test_that_did_not_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A listed test that failed, or was not selected at all, is a regression, named."""
    listed = tmp_path / "expected.txt"
    listed.write_text("# comment\n" + "\n".join(o.name for o in SAMPLE[:2]) + "\nt.not_selected\n")
    assert not expected_passed(listed, SAMPLE)
    err = capsys.readouterr().err
    assert f"REGRESSION {SAMPLE[1].name} failed" in err
    assert "REGRESSION t.not_selected not selected" in err
    listed.write_text(SAMPLE[0].name + "\n")
    assert expected_passed(listed, SAMPLE)
