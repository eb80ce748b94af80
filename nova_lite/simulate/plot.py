"""PNG charts of simulation results (matplotlib, the ``simulate`` extra).

One figure of four panels over simulated hours: vCPU and RAM utilization,
active servers, rejections per sample, and stranded vCPUs. Given several results
(`--compare`), each panel draws one line per configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nova_lite.exceptions import NovaLiteError
from nova_lite.simulate.report import SimulationResult

__all__ = ["plot_results"]

PANELS = (
    ("vcpu_utilization", "vCPU utilization"),
    ("active_servers", "active servers"),
    ("rejected", "rejected per sample"),
    ("stranded_vcpus", "stranded vCPUs"),
)


def plot_results(results: Mapping[str, SimulationResult], path: str | Path) -> Path:
    """Draw `results` (label -> result) into a PNG at `path`; the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NovaLiteError("Plots need matplotlib: pip install 'nova-lite[simulate]'.") from None
    figure, axes = plt.subplots(len(PANELS), 1, figsize=(9, 2.4 * len(PANELS)), sharex=True)
    for (key, title), axis in zip(PANELS, axes, strict=True):
        for label, result in results.items():
            hours = [row["t"] / 3600 for row in result.samples]
            axis.plot(hours, [row[key] for row in result.samples], label=label, linewidth=1.2)
            if key == "vcpu_utilization":
                axis.plot(
                    hours, [row["ram_utilization"] for row in result.samples],
                    linestyle="--", linewidth=1.0, label=f"{label} (RAM)",
                )  # fmt: skip
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("simulated hours")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
