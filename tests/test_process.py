"""``[process]``: a launched nova_lite process tunes its own garbage collector.

``nova-lite all`` and ``nova-lite service`` run as OS processes here, with
thresholds no interpreter has by default, and must report (from `gc` itself, after
applying them) the thresholds read from the file and a non-empty permanent
generation once their services have started. A library user's `Cloud` must leave
the interpreter's collector as it found it.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from nova_lite.config import Config
from nova_lite.testing import CloudFactory, TransportFactory
from tests.test_all_in_one import _delete_queues
from tests.test_deployment import launched

PROCESS_SECTION = "[process]\ngc_threshold0 = 1234\ngc_threshold1 = 7\ngc_threshold2 = 8\n"


def _config_file(tmp_path: Path, transport_url: str, process: str, rpc: str = "") -> Path:
    config = tmp_path / "nova-lite.toml"
    config.write_text(
        f'transport_url = "{transport_url}"\nhost = "gc"\n'
        f'state_path = "{tmp_path / "state"}"\n'
        f'[logging]\nformat = "json"\n{rpc}{process}'
    )
    return config


async def _tuning_reported(config: Path, *command: str) -> dict[str, Any]:
    """Run ``python -m nova_lite COMMAND --config CONFIG`` until ready; its gc report."""
    async with launched(config, *command) as process:
        pass
    reports = [r for r in process.lines if r.get("event") == "process.gc_tuned"]
    assert len(reports) == 1, "\n".join(process.raw[-20:])
    return reports[0]


async def test_the_all_in_one_process_applies_its_gc_thresholds_and_freezes(
    tmp_path: Path,
) -> None:
    """``nova-lite all`` sets the file's thresholds and freezes its started cloud."""
    config = _config_file(tmp_path, "memory://", PROCESS_SECTION)
    report = await _tuning_reported(config, "all", "--computes", "1")
    assert report["thresholds"] == [1234, 7, 8]
    assert report["frozen"] > 10000  # the started services' objects


async def test_a_service_process_applies_its_gc_thresholds_without_freezing(
    tmp_path: Path, rabbitmq_url: str
) -> None:
    """``nova-lite service`` reads ``[process]`` too; freezing off leaves nothing frozen."""
    names = TransportFactory("rabbitmq", rabbitmq_url)
    exchange, prefix = names.name("gc"), names.name("q") + "."
    rpc = f'[rpc]\nexchange = "{exchange}"\nqueue_prefix = "{prefix}"\n'
    process = PROCESS_SECTION + "gc_freeze_after_start = false\n"
    config = _config_file(tmp_path, rabbitmq_url, process, rpc)
    try:
        report = await _tuning_reported(config, "service", "scheduler")
    finally:
        await _delete_queues(rabbitmq_url, prefix, exchange)
    assert report["thresholds"] == [1234, 7, 8]
    assert report["frozen"] == 0


def test_the_process_options_are_read_from_the_environment() -> None:
    """``NOVA_LITE_PROCESS_*`` variables set the section like any other."""
    config = Config.load(
        environ={"NOVA_LITE_PROCESS_GC_THRESHOLD0": "0",
                 "NOVA_LITE_PROCESS_GC_FREEZE_AFTER_START": "false"}
    )  # fmt: skip
    assert config.process.gc_threshold0 == 0
    assert config.process.gc_freeze_after_start is False


async def test_a_library_cloud_leaves_the_interpreters_collector_alone(
    memory_clouds: CloudFactory,
) -> None:
    """Starting a `Cloud` in-process changes neither the thresholds nor the frozen set."""
    before = gc.get_threshold(), gc.get_freeze_count()
    await memory_clouds.start(computes=1, process={"gc_threshold0": 1})
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
