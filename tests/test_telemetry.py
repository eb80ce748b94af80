"""Metrics after a known workload, traces across services, and "No valid host" explained.

Each cloud test runs a workload whose counts are known (N boots through the HTTP API,
one refused by the ResourceFilter), stops the cloud (its workers drain, so every
handler has finished and counted), then reads the cloud's own registry and spans.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from nova_lite.cloud import Cloud
from nova_lite.metrics import Metrics
from nova_lite.testing import CloudFactory, NotificationTap, events_named
from tests.http_fixtures import FrontEnd

COMPUTE = "/compute/v2.1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Each fake host takes three m1.tiny and no m1.small: (1536 - 512 reserved) MB x 1.5.
SMALL_HOSTS = {"fake_driver": {"memory_mb": 1536}}
BOOTS = 3


async def _start(clouds: CloudFactory, *, tracing: bool = True) -> FrontEnd:
    """Two small hosts behind the HTTP API, tokens checked each time, tracing into memory
    (or metrics alone: the RPC hooks' `Metered` way, not the one beside spans)."""
    cloud = await clouds.start(
        computes=2,
        api={"token_cache_ttl": 0},
        tracing={"exporter": "memory" if tracing else "none"},
        **SMALL_HOSTS,
    )
    return await FrontEnd.start(cloud)


@pytest.fixture
async def front(clouds: CloudFactory) -> AsyncIterator[FrontEnd]:
    """Two small hosts behind the HTTP API, tracing into memory, tokens checked each time."""
    front = await _start(clouds)
    try:
        yield front
    finally:
        await front.aclose()


async def _boot(front: FrontEnd, token: str, name: str, flavor: str) -> str:
    body = {"server": {"name": name, "imageRef": await front.image_id(), "flavorRef": flavor}}
    reply = await front.call("POST", f"{COMPUTE}/servers", token=token, json=body)
    assert reply.status == 202, reply.body
    server_id: str = reply.body["server"]["id"]
    return server_id


async def _workload(front: FrontEnd) -> tuple[list[str], str]:
    """BOOTS servers ACTIVE (their builds finished) and one m1.small in ERROR."""
    tap = await NotificationTap.attach(front.cloud)
    token = await front.token()
    booted = [await _boot(front, token, f"web{i}", "1") for i in range(BOOTS)]
    for server_id in booted:
        await tap.wait_event(server_id, "instance.create.end")
    refused = await _boot(front, token, "big", "2")
    await front.wait(token, refused, "ERROR")
    bad = await front.call("GET", f"{COMPUTE}/servers", token="not-a-token")
    assert bad.status == 401
    return booted, refused


def _metrics(cloud: Cloud) -> Metrics:
    assert cloud.telemetry.metrics is not None
    return cloud.telemetry.metrics


@pytest.mark.parametrize("tracing", [True, False], ids=["beside-tracing", "metrics-alone"])
async def test_the_metrics_count_a_known_workload(clouds: CloudFactory, tracing: bool) -> None:
    """Boots, the refusal, RPC, scheduling, tokens and HTTP requests counted as they ran,
    with tracing on too (`Observed`) and with metrics alone (`Metered`)."""
    front = await _start(clouds, tracing=tracing)
    try:
        await _the_metrics_count_a_known_workload(front)
    finally:
        await front.aclose()


async def _the_metrics_count_a_known_workload(front: FrontEnd) -> None:
    telemetry = front.cloud.telemetry
    hook = telemetry.rpc.sending.__name__
    assert hook == ("sending" if telemetry.tracing is not None else "_send_metered"), hook
    await _workload(front)
    scraped = await front.call("GET", "/metrics")
    await front.cloud.stop()  # every worker drained: each handler has counted
    m = _metrics(front.cloud)

    assert m.value("nova_lite_builds_total", outcome="active") == BOOTS
    assert m.value("nova_lite_build_duration_seconds_count", outcome="active") == BOOTS
    for stage in ("networking", "spawning", "active"):  # no volumes: nothing to map
        assert m.value("nova_lite_build_stage_duration_seconds_count", stage=stage) == BOOTS
    assert (
        m.value("nova_lite_build_stage_duration_seconds_count", stage="block_device_mapping") == 0
    )
    assert m.value("nova_lite_scheduler_decisions_total", outcome="selected") == BOOTS
    assert m.value("nova_lite_scheduler_decisions_total", outcome="no_valid_host") == 1
    assert m.value("nova_lite_scheduler_hosts_considered_count") == BOOTS + 1
    assert m.value("nova_lite_scheduler_hosts_considered_sum") == 2 * (BOOTS + 1)
    assert m.value("nova_lite_scheduler_filter_eliminations_total", filter="ResourceFilter") == 2
    assert m.value("nova_lite_scheduler_filter_eliminations_total", filter="ComputeFilter") == 0

    build = {"topic": "compute", "method": "build_and_run_instance", "kind": "cast"}
    assert m.value("nova_lite_rpc_sent_total", **build) == BOOTS
    assert m.value("nova_lite_rpc_handled_total", **build) == BOOTS
    select = {"topic": "scheduler", "method": "select_destinations"}
    assert m.value("nova_lite_rpc_call_duration_seconds_count", **select) == BOOTS + 1
    assert m.value("nova_lite_rpc_handle_duration_seconds_count", **select) == BOOTS + 1
    refusal = {**select, "exception": "NoValidHost"}
    assert m.value("nova_lite_rpc_send_failures_total", **refusal, kind="call") == 1
    assert m.value("nova_lite_rpc_handle_failures_total", **refusal) == 1
    assert m.value("nova_lite_rpc_in_flight_handlers", topic="compute") == 0

    servers = {"method": "POST", "route": f"{COMPUTE}/servers"}
    assert m.value("nova_lite_http_requests_total", **servers, status="202") == BOOTS + 1
    assert m.value("nova_lite_http_request_duration_seconds_count", **servers) == BOOTS + 1
    assert m.value("nova_lite_token_validations_total", outcome="invalid") == 1
    assert m.value("nova_lite_token_validations_total", outcome="valid") >= BOOTS + 1
    assert m.value("nova_lite_rpc_queue_messages", queue=_queue(front.cloud, "scheduler")) == 0

    text = scraped.raw.decode()
    assert scraped.status == 200, text
    assert 'nova_lite_builds_total{outcome="active"}' in text
    assert not UUID.search(text), UUID.search(text)  # no uuid label (route templates only)


def _queue(cloud: Cloud, topic: str) -> str:
    return cloud.config.rpc.queue_prefix + topic


async def test_the_http_route_label_is_the_template_and_unknown_paths_are_one_label(
    front: FrontEnd,
) -> None:
    """A server's uuid never becomes a label; every unserved path is ``unmatched``."""
    token = await front.token()
    server_id = await front.boot(token)
    assert (await front.call("GET", f"{COMPUTE}/servers/{server_id}", token=token)).status == 200
    assert (await front.call("GET", f"/no/such/{server_id}", token=token)).status == 404
    m = _metrics(front.cloud)

    one = {"method": "GET", "route": f"{COMPUTE}/servers/{{server_id}}", "status": "200"}
    assert m.value("nova_lite_http_requests_total", **one) == 1
    assert m.value("nova_lite_http_requests_total", method="GET", route="unmatched", status="404")
    await front.cloud.api.session(token).servers.delete(server_id)


async def test_metrics_off_is_a_404_and_nothing_is_bound(clouds: CloudFactory) -> None:
    """With ``[metrics] enabled = false`` and no tracing there is no telemetry at all."""
    cloud = await clouds.start(computes=1, metrics={"enabled": False})
    front = await FrontEnd.start(cloud)
    try:
        assert (await front.call("GET", "/metrics")).status == 404
        assert cloud.telemetry.metrics is None and not cloud.telemetry.active
    finally:
        await front.aclose()


def _by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None}


def _one(spans: list[ReadableSpan], name: str, kind: SpanKind, **attributes: Any) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.name == name
        and s.kind is kind
        and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, kind, [(s.name, s.kind) for s in spans])
    return found[0]


def _parent(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    return spans[span.parent.span_id]


async def test_one_trace_covers_the_request_and_every_service_it_touched(
    front: FrontEnd,
) -> None:
    """api → conductor → scheduler → compute: one trace, each hop the child of its sender."""
    token = await front.token()
    tap = await NotificationTap.attach(front.cloud)
    server_id = await _boot(front, token, "traced", "1")
    await tap.wait_event(server_id, "instance.create.end")
    await front.cloud.stop()
    assert front.cloud.telemetry.tracing is not None
    everything = front.cloud.telemetry.tracing.spans()

    http = _one(everything, f"POST {COMPUTE}/servers", SpanKind.SERVER)
    assert http.parent is None and http.context is not None
    trace = [s for s in everything if s.context and s.context.trace_id == http.context.trace_id]
    spans = _by_id(trace)
    cast = _one(trace, "conductor/schedule_and_build_instances", SpanKind.PRODUCER)
    handled = _one(trace, "conductor/schedule_and_build_instances", SpanKind.CONSUMER)
    assert _parent(handled, spans) is cast
    assert _ancestors(cast, spans)[-1] is http

    asked = _one(trace, "scheduler/select_destinations", SpanKind.CLIENT)
    answered = _one(trace, "scheduler/select_destinations", SpanKind.SERVER)
    assert _parent(answered, spans) is asked and handled in _ancestors(asked, spans)
    decision = _one(trace, "scheduler decision", SpanKind.INTERNAL)
    assert _parent(decision, spans) is answered
    assert (decision.attributes or {})["nova_lite.scheduler.outcome"] == "selected"
    assert asked.end_time is not None and answered.end_time is not None
    assert asked.end_time >= answered.end_time  # the caller's span covers the reply

    sent = _one(trace, "compute/build_and_run_instance", SpanKind.PRODUCER)
    built = _one(trace, "compute/build_and_run_instance", SpanKind.CONSUMER)
    assert _parent(built, spans) is sent and handled in _ancestors(sent, spans)
    for stage in ("networking", "spawning", "active"):  # no volumes: no mapping stage
        step = _one(trace, f"build {stage}", SpanKind.INTERNAL)
        assert _parent(step, spans) is built
        assert (step.attributes or {})["nova_lite.instance_uuid"] == server_id

    services = {(s.attributes or {}).get("nova_lite.service") for s in trace}
    assert {"api", "conductor", "scheduler", "compute"} <= services
    assert (built.attributes or {})["nova_lite.host"] in ("compute1", "compute2")


async def test_a_callers_trace_context_reaches_the_last_hop(front: FrontEnd) -> None:
    """A caller's traceparent and tracestate: every hop down to compute in its trace."""
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {
        "traceparent": f"00-{caller_trace}-{caller_span}-01",
        "tracestate": "vendor=opaque",
    }
    token = await front.token()
    tap = await NotificationTap.attach(front.cloud)
    body = {"server": {"name": "called", "imageRef": await front.image_id(), "flavorRef": "1"}}
    reply = await front.call("POST", f"{COMPUTE}/servers", token=token, json=body, headers=headers)
    assert reply.status == 202, reply.body
    await tap.wait_event(reply.body["server"]["id"], "instance.create.end")
    await front.cloud.stop()
    assert front.cloud.telemetry.tracing is not None
    everything = front.cloud.telemetry.tracing.spans()

    http = _one(everything, f"POST {COMPUTE}/servers", SpanKind.SERVER)
    assert http.parent is not None and http.parent.is_remote
    assert f"{http.parent.span_id:016x}" == caller_span
    trace = [s for s in everything if s.context and f"{s.context.trace_id:032x}" == caller_trace]
    spans = _by_id(trace)
    built = _one(trace, "compute/build_and_run_instance", SpanKind.CONSUMER)
    assert built.parent is not None and built.parent.is_remote  # from the message
    assert _ancestors(built, spans)[-1] is http
    assert built.context is not None and built.context.trace_state.get("vendor") == "opaque"


def _ancestors(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []  # up to the trace's root here (a caller's own span is not among them)
    while span.parent is not None and span.parent.span_id in spans:
        span = spans[span.parent.span_id]
        chain.append(span)
    return chain


async def test_no_valid_host_says_which_filter_removed_the_hosts(
    front: FrontEnd, log_events: list[MutableMapping[str, Any]]
) -> None:
    """The fault body has the short form; the log has each filter's start and end counts."""
    token = await front.token()
    refused = await _boot(front, token, "big", "2")
    await front.wait(token, refused, "ERROR")

    reply = await front.call("GET", f"{COMPUTE}/servers/{refused}", token=token)
    fault = reply.body["server"]["fault"]
    assert fault["code"] == 500
    assert fault["message"] == (
        "No valid host was found. There are not enough hosts available. Of 2 hosts, "
        "ResourceFilter removed 2 (the request needs 1 vCPU, 2048 MB RAM, 20 GB disk)."
    )
    [logged] = events_named(log_events, "scheduler.no_valid_host")
    assert logged["level"] == "info" and logged["instance_uuid"] == refused
    # The scheduler's free-resource index leaves out the hosts without room before any
    # other filter runs: those hosts count as the ResourceFilter's removals.
    assert logged["detail"] == (
        f"Filtering removed all hosts for the request with instance ID '{refused}'. "
        "Filter results: ['ResourceFilter: (start: 2, end: 0)']"
    )
    assert logged["needs"] == "1 vCPU, 2048 MB RAM, 20 GB disk"


async def test_two_clouds_in_one_process_keep_their_metrics_apart(tmp_path: Path) -> None:
    """Each cloud counts on a registry of its own: a boot in one is not seen by the other."""
    async with (
        CloudFactory.memory(tmp_path / "a") as one,
        CloudFactory.memory(tmp_path / "b") as two,
    ):
        busy = await one.start(computes=1)
        idle = await two.start(computes=1)
        tap = await NotificationTap.attach(busy)
        session = await busy.login_admin()
        [server] = await session.servers.create("one", flavor="m1.tiny", image="cirros")
        await tap.wait_event(server.id, "instance.create.end")
        await busy.stop()
        assert _metrics(busy).value("nova_lite_builds_total", outcome="active") == 1
        assert _metrics(idle).value("nova_lite_builds_total", outcome="active") == 0
        assert _metrics(busy).registry is not _metrics(idle).registry
