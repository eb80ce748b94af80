"""`nova-lite simulate`: the real control plane in virtual time, driven by traces.

`Simulation` (runner), the trace format and generators (trace), faults, the
virtual-time loop (loop) and the per-minute report (report). README "Scheduling
studies" shows the command and the library use.
"""

from nova_lite.simulate.faults import HostFailure, failures_by_mtbf
from nova_lite.simulate.loop import SimulationStalled, VirtualTimeLoop
from nova_lite.simulate.report import SimulationResult
from nova_lite.simulate.runner import Simulation, SimulationSpec
from nova_lite.simulate.trace import (
    Arrival,
    TraceError,
    read_azure,
    read_trace,
    synthetic,
    write_trace,
)

__all__ = [
    "Arrival",
    "HostFailure",
    "Simulation",
    "SimulationResult",
    "SimulationSpec",
    "SimulationStalled",
    "TraceError",
    "VirtualTimeLoop",
    "failures_by_mtbf",
    "read_azure",
    "read_trace",
    "synthetic",
    "write_trace",
]
