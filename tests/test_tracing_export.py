"""Every exporter gets the same spans: OTLP to a collector, the file, memory, the console.

RPC hops leave the tracer as rows of a shape (`nova_lite.tracing.hops`), not spans;
these tests check that each exporter still gets every span the issue names with its
parents and attributes: a boot through HTTP across four services over both brokers,
exported by OTLP/HTTP to a collector that decodes the protobuf as any collector
would, and written to the span file and read back; a failed call as error spans;
the console exporter through the SDK.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind

from nova_lite import Invoker, RequestContext, Target, Worker
from nova_lite.config import Config
from nova_lite.exceptions import NovaLiteError
from nova_lite.rpc import endpoint
from nova_lite.telemetry import Telemetry, install, uninstall
from nova_lite.telemetry.rpc import RpcObserver
from nova_lite.testing import CloudFactory, TransportFactory
from nova_lite.tracing import hops
from nova_lite.tracing.exporters import JsonLinesExporter, MemoryExporter, span_record
from nova_lite.tracing.light import CURRENT, LightTracer
from nova_lite.tracing.timeline import read_span_file
from tests.http_fixtures import boot_one_then_stop

COMPUTE = "/compute/v2.1"
_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


class Collector:
    """An OTLP/HTTP traces receiver in a thread: decodes each request's protobuf."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: set[str] = set()
        received = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.requests.append(request)
                received.content_types.add(self.headers.get("Content-Type", ""))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1/traces"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def records(self) -> list[dict[str, Any]]:
        """Every span received, as the span file's records (`span_record`) and its scope."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(
                            {
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex() or None,
                                "name": span.name,
                                "kind": _KINDS[span.kind],
                                "start": span.start_time_unix_nano,
                                "end": span.end_time_unix_nano,
                                "status": _STATUS[span.status.code],
                                "attributes": _attributes(span.attributes),
                                "service": resource.get("service.name"),
                                "scope": scope_spans.scope.name,
                                "events": [event.name for event in span.events],
                            }
                        )
        return found


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which is not None else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    try:
        yield found
    finally:
        found.close()


def _one(records: Sequence[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    found = [r for r in records if r["name"] == name and r["kind"] == kind]
    assert len(found) == 1, (name, kind, [(r["name"], r["kind"]) for r in records])
    return found[0]


def check_boot_trace(records: Sequence[dict[str, Any]], server_id: str) -> None:
    """One boot through HTTP: one trace, api → conductor → scheduler → compute, each hop
    the child of its sender, with the attributes the issue names (records as
    `span_record` makes them)."""
    http_span = _one(records, f"POST {COMPUTE}/servers", "SERVER")
    assert http_span["parent_id"] is None
    trace = [r for r in records if r["trace_id"] == http_span["trace_id"]]
    spans = {r["span_id"]: r for r in trace}
    assert len(spans) == len(trace)  # no span id twice

    def parent(record: dict[str, Any]) -> dict[str, Any]:
        assert record["parent_id"] is not None, record["name"]
        return spans[record["parent_id"]]

    def ancestors(record: dict[str, Any]) -> list[dict[str, Any]]:
        chain = []
        while record["parent_id"] is not None:
            record = spans[record["parent_id"]]
            chain.append(record)
        return chain

    cast = _one(trace, "conductor/schedule_and_build_instances", "PRODUCER")
    handled = _one(trace, "conductor/schedule_and_build_instances", "CONSUMER")
    assert parent(handled) is cast and ancestors(cast)[-1] is http_span
    asked = _one(trace, "scheduler/select_destinations", "CLIENT")
    answered = _one(trace, "scheduler/select_destinations", "SERVER")
    assert parent(answered) is asked and handled in ancestors(asked)
    assert asked["end"] >= answered["end"] >= answered["start"] >= asked["start"]
    decision = _one(trace, "scheduler decision", "INTERNAL")
    assert parent(decision) is answered
    assert decision["attributes"]["nova_lite.scheduler.outcome"] == "selected"
    sent = _one(trace, "compute/build_and_run_instance", "PRODUCER")
    built = _one(trace, "compute/build_and_run_instance", "CONSUMER")
    assert parent(built) is sent and handled in ancestors(sent)
    for stage in ("networking", "spawning", "active"):
        step = _one(trace, f"build {stage}", "INTERNAL")
        assert parent(step) is built
        assert step["attributes"]["nova_lite.instance_uuid"] == server_id

    for record in (cast, handled, asked, answered, sent, built):
        attributes = record["attributes"]
        assert attributes["rpc.system"] == "oslo.messaging"
        assert attributes["rpc.method"] == record["name"].split("/", 1)[1]
        assert record["status"] == "UNSET" and record["end"] >= record["start"] > 0
    for record in (handled, answered, built):  # a handler names its request
        assert str(record["attributes"]["nova_lite.request_id"]).startswith("req-")
    assert cast["attributes"]["nova_lite.service"] == "api"
    assert handled["attributes"]["nova_lite.service"] == "conductor"
    assert asked["attributes"]["nova_lite.service"] == "conductor"
    assert answered["attributes"]["nova_lite.service"] == "scheduler"
    assert sent["attributes"]["server.address"] == built["attributes"]["nova_lite.host"]
    assert built["attributes"]["nova_lite.host"] in ("compute1", "compute2")
    assert built["attributes"]["nova_lite.instance_uuid"] == server_id
    assert {r["service"] for r in trace} == {"nova-lite"}


async def test_otlp_export_reaches_a_collector_that_decodes_the_protobuf(
    clouds: CloudFactory, collector: Collector
) -> None:
    """``exporter = "otlp"``: the boot's whole trace, decoded from OTLP/HTTP protobuf."""
    cloud = await clouds.start(computes=2, tracing={"exporter": "otlp", "endpoint": collector.url})
    server_id = await boot_one_then_stop(cloud)
    records = collector.records()
    assert collector.content_types == {"application/x-protobuf"}
    check_boot_trace(records, server_id)
    assert {r["scope"] for r in records} == {"nova_lite"}


async def test_the_span_file_holds_the_whole_trace(clouds: CloudFactory, tmp_path: Path) -> None:
    """``exporter = "file"``: the same trace read back from the file (hops as rows)."""
    path = tmp_path / "spans" / "traces.jsonl"
    cloud = await clouds.start(computes=2, tracing={"exporter": "file", "file": str(path)})
    server_id = await boot_one_then_stop(cloud)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert any(isinstance(line, list) for line in lines)  # hops' rows, a batch a line
    check_boot_trace(read_span_file(path), server_id)


async def test_the_memory_holds_the_whole_trace(clouds: CloudFactory) -> None:
    """``exporter = "memory"``: the same trace as SDK spans (`span_record` of each)."""
    cloud = await clouds.start(computes=2, tracing={"exporter": "memory"})
    tracing = cloud.telemetry.tracing
    server_id = await boot_one_then_stop(cloud)
    assert tracing is not None
    check_boot_trace([span_record(span) for span in tracing.spans()], server_id)


class _Failing:
    @endpoint
    async def refuse(self, ctx: RequestContext, instance_uuid: str) -> None:
        raise NovaLiteError("refused on purpose")

    @endpoint
    async def echo(self, ctx: RequestContext, instance_uuid: str) -> str:
        return instance_uuid


async def _calls(broker: TransportFactory, telemetry: Telemetry) -> tuple[str, str]:
    """One call that fails, one that does not, on `telemetry`; their instance uuids."""
    transport = await broker.connect()
    install(transport, telemetry)
    suffix = uuid.uuid4().hex[:8]
    target = Target(topic=f"fails_{suffix}", exchange=f"fails_{suffix}", server="h1")
    worker = Worker(transport, target, [_Failing()])
    await worker.start()
    invoker = Invoker(transport, Target(topic=target.topic, exchange=target.exchange))
    bad, good = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        with pytest.raises(NovaLiteError):
            await invoker.call(RequestContext(), "refuse", instance_uuid=bad)
        assert await invoker.call(RequestContext(), "echo", instance_uuid=good) == good
    finally:
        await worker.stop()
        uninstall(transport)
        telemetry.close()
    return bad, good


async def test_a_failed_call_ends_as_error_spans_and_the_next_as_rows(
    broker: TransportFactory, tmp_path: Path
) -> None:
    """A hop that fails is a full span with the error (status, exception event), in
    memory and in the file; the next call's hops are rows again, with the same fields."""
    memory = MemoryExporter()
    config = Config.load(environ={}, tracing={"exporter": "memory"})
    telemetry = Telemetry.from_config(config, exporter=memory)
    bad, good = await _calls(broker, telemetry)
    spans = {(s.name.split("/")[1], s.kind): s for s in memory.spans()}
    assert len(spans) == 4
    for kind in (SpanKind.CLIENT, SpanKind.SERVER):
        failed = spans[("refuse", kind)]
        assert failed.status.status_code.name == "ERROR"
        assert [event.name for event in failed.events] == ["exception"]
        assert (failed.attributes or {})["nova_lite.instance_uuid"] == bad
        fine = spans[("echo", kind)]
        assert fine.status.status_code.name == "UNSET" and not fine.events
        assert (fine.attributes or {})["nova_lite.instance_uuid"] == good
    for name in ("refuse", "echo"):
        client, server = spans[(name, SpanKind.CLIENT)], spans[(name, SpanKind.SERVER)]
        assert server.parent is not None and server.parent.is_remote
        assert client.context is not None and server.parent.span_id == client.context.span_id
        assert server.context is not None and server.context.trace_id == client.context.trace_id

    path = tmp_path / "t.jsonl"
    config = Config.load(environ={}, tracing={"exporter": "file", "file": str(path)})
    bad, good = await _calls(broker, Telemetry.from_config(config))
    written = {(r["name"].split("/")[1], r["kind"]): r for r in read_span_file(path)}
    assert written[("refuse", "SERVER")]["status"] == "ERROR"
    assert written[("refuse", "CLIENT")]["status"] == "ERROR"
    assert written[("echo", "SERVER")]["parent_id"] == written[("echo", "CLIENT")]["span_id"]
    assert written[("echo", "SERVER")]["attributes"]["nova_lite.instance_uuid"] == good


def test_the_console_exporter_prints_the_spans_through_the_sdk(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``exporter = "console"``: the SDK's console exporter prints a hop and its child."""
    config = Config.load(environ={}, tracing={"exporter": "console"})
    telemetry = Telemetry.from_config(config)
    assert telemetry.tracer is not None
    tracer = telemetry.tracer
    shape = telemetry.rpc._shape(("call", "conductor", "ping", None), tracer)
    hop = tracer.handling(shape, {}, _Request())
    token = CURRENT.set(hop)
    with tracer.start_as_current_span("inside"):
        pass
    CURRENT.reset(token)
    hop.end()
    telemetry.close()
    printed = capsys.readouterr().err
    assert '"name": "conductor/ping"' in printed and '"name": "inside"' in printed
    assert f'"parent_id": "0x{hop.span_id}"' in printed
    assert '"nova_lite.request_id": "req-console"' in printed


class _Context:
    request_id = "req-console"


class _Request:
    context = _Context()
    args: dict[str, Any] = {}


def test_rows_read_back_as_the_records_of_their_sdk_spans(tmp_path: Path) -> None:
    """A row's file record is `span_record` of its SDK span; two writers share a file."""
    path = tmp_path / "t.jsonl"
    rows = []
    for _ in range(2):  # two processes appending to one file: each writes its shapes
        exporter = JsonLinesExporter(path)
        tracer = LightTracer(exporter, Resource.create({"service.name": "svc"}))
        observer = RpcObserver(None, tracer)
        shape = observer._shape(("cast", "compute", "note", "h1", ("api", "host-a")), tracer)
        tracer.rows_waiting = lambda: None  # keep the row: no flush
        tracer.hop(shape, None, {"instance_uuid": "u-1"}).end()
        rows.extend(tracer.rows)
        tracer.shutdown()
    records = read_span_file(path)
    assert records == [hops.record(row) for row in rows]
    assert records == [span_record(hops.readable(row)) for row in rows]
    assert records[0]["attributes"] == {
        "rpc.system": "oslo.messaging",
        "rpc.method": "note",
        "nova_lite.service": "api",
        "nova_lite.host": "host-a",
        "server.address": "h1",
        "nova_lite.instance_uuid": "u-1",
    }
    assert (records[0]["kind"], records[0]["service"], records[0]["parent_id"]) == (
        "PRODUCER",
        "svc",
        None,
    )
    shapes = [line for line in path.read_bytes().splitlines() if b'"shape"' in line]
    assert len(shapes) == 2 and shapes[0] == shapes[1]  # the same id from both writers


def test_a_truncated_span_file_gets_its_shapes_again(tmp_path: Path) -> None:
    """After a copytruncate the next batch writes its shape line again: rows still read."""
    path = tmp_path / "t.jsonl"
    tracer = LightTracer(JsonLinesExporter(path), Resource.create({"service.name": "svc"}))
    shape = RpcObserver(None, tracer)._shape(("call", "api", "ping", None, ("", "")), tracer)
    tracer.hop(shape, None, {}).end()  # no event loop: written at once
    assert [r["name"] for r in read_span_file(path)] == ["api/ping"]
    path.write_bytes(b"")  # what logrotate's copytruncate does
    tracer.hop(shape, None, {}).end()
    tracer.shutdown()
    assert [r["name"] for r in read_span_file(path)] == ["api/ping"]
    assert path.read_bytes().startswith(b'{"shape"')
