"""A subunit v2 stream to JSON records, one per test: ``python subunit_json.py IN OUT [LOG]``.

With ``--trace`` it reads a stream on its standard input instead and prints a line
per test as each ends (the runner's console; stestr's own ``subunit_trace`` does
not run with the python-subunit release Tempest 47 installs).

Run by the Tempest virtual environment's Python (it has python-subunit and
testtools), never imported by nova_lite's: it uses nothing but those two and the
standard library. Each record is ``{"id", "status", "reason", "traceback",
"requests", "seconds"}``: the status as subunit has it (``success``, ``fail``,
``skip``, ``xfail``, ``uxsuccess``, or ``inprogress`` for a test the run never
finished; the stream's listing, status ``exists``, is dropped), a skip's reason, a
failure's traceback, and the REST requests Tempest logged for the test, each
``[caller, status, method, url]`` (the caller is ``Class:method``, e.g.
``ServersTestJSON:_run_cleanups``), so a failure can be traced to the route that
answered it. A stream cut short (a run that timed out) gives the
records it holds.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import subunit
import testtools

REQUEST = re.compile(r"Request \((\w+:\w+)\): (\d{3}) ([A-Z]+) (\S+)")
MAX_TRACEBACK = 20_000  # characters kept of a traceback (the end, where the error is)


def _text(details: dict[str, Any], name: str) -> str:
    """The text of the attachment `name` (``pythonlogging`` is ``pythonlogging:''``)."""
    texts = []
    for key, content in details.items():
        if key.split(":", 1)[0] != name:
            continue
        try:
            texts.append(str(content.as_text()))
        except Exception:  # an undecodable attachment is not worth failing the report for
            continue
    return "\n".join(texts)


def _record(test: dict[str, Any]) -> dict[str, Any]:
    details = test["details"]
    started, stopped = test["timestamps"]
    return {
        "id": test["id"],
        "status": test["status"],
        "reason": _text(details, "reason"),
        "traceback": _text(details, "traceback")[-MAX_TRACEBACK:],
        "requests": [list(r) for r in REQUEST.findall(_text(details, "pythonlogging"))],
        "seconds": (stopped - started).total_seconds() if started and stopped else None,
    }


def convert(stream: Any) -> list[dict[str, Any]]:
    """Every test record in the subunit v2 byte `stream`."""
    records: list[dict[str, Any]] = []
    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    result = testtools.StreamToDict(
        lambda test: records.append(_record(test)) if test["status"] != "exists" else None
    )
    result.startTestRun()
    try:
        case.run(result)
    finally:
        result.stopTestRun()
    return records


def trace(stream: Any, out: Any) -> None:
    """Print a line per test as it ends (``ok``/``FAILED``/``SKIPPED``, its time and id)."""
    words = {"success": "ok", "fail": "FAILED", "skip": "SKIPPED", "xfail": "xfail"}

    def echo(test: dict[str, Any]) -> None:
        if test["status"] == "exists":
            return
        record = _record(test)
        seconds = f"{record['seconds']:.1f}s" if record["seconds"] is not None else "-"
        word = words.get(record["status"], record["status"])
        out.write(f"{word:>7} {seconds:>7} {record['id'].split('[', 1)[0]}\n")
        out.flush()

    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    result = testtools.StreamToDict(echo)
    result.startTestRun()
    case.run(result)
    result.stopTestRun()


def class_requests(log_text: str) -> dict[str, list[list[str]]]:
    """The requests ``tempest.log`` has of each class's set-up, by class name.

    A class's ``setUpClass`` record carries no log of its own; its requests are
    logged as ``Request (Class:setUpClass)`` in Tempest's log file.
    """
    found: dict[str, list[list[str]]] = {}
    for caller, *request in REQUEST.findall(log_text):
        test_class, _, method = caller.partition(":")
        if method == "setUpClass":
            found.setdefault(test_class, []).append([caller, *request])
    return found


def add_class_requests(records: list[dict[str, Any]], log_text: str) -> None:
    """Give each ``setUpClass (module.Class)`` record its class's requests from the log."""
    by_class = class_requests(log_text)
    for record in records:
        if record["id"].startswith("setUpClass (") and not record["requests"]:
            test_class = record["id"][len("setUpClass (") : -1].rsplit(".", 1)[-1]
            record["requests"] = by_class.get(test_class, [])


def main(argv: list[str]) -> None:
    """``IN OUT [LOG]``: the stream IN as JSON records in OUT (set-up requests from Tempest's
    LOG); ``--trace``: echo the stream on stdin."""
    if argv[1:] == ["--trace"]:
        trace(sys.stdin.buffer, sys.stdout)
        return
    with open(argv[1], "rb") as stream:
        records = convert(stream)
    if len(argv) > 3:
        with open(argv[3], encoding="utf-8", errors="replace") as log:
            add_class_requests(records, log.read())
    with open(argv[2], "w", encoding="utf-8") as out:
        json.dump(records, out, indent=1)


if __name__ == "__main__":
    main(sys.argv)
