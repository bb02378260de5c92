"""The table every benchmark reports into: figure, floor, ratio, target and whether it was met."""

from __future__ import annotations

import math
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Result:
    """One row of the table. ``ratio`` is figure/floor; ``met`` None means not measured, or,
    with a figure, a row given for context that no target applies to."""

    bench: str
    metric: str
    figure: float | None
    floor: float | None
    unit: str
    target: str
    met: bool | None
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.floor:
            return None
        return self.figure / self.floor


def not_measured(bench: str, metric: str, target: str, why: str) -> Result:
    return Result(bench, metric, None, None, "", target, None, note=why)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(results: Iterable[Result]) -> str:
    """A Markdown table (it reads as well in a terminal as in docs/BENCHMARKS.md)."""
    lines = [
        "| # | benchmark | metric | figure | floor | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(results, 1):
        met = {True: "yes", False: "**no**", None: "not measured"}[r.met]
        if r.met is None and r.figure is not None:
            met = "—"  # measured, for context: no target applies
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(
            f"| {n} | {r.bench} | {r.metric} | {fmt(r.figure, r.unit)} | {fmt(r.floor, r.unit)} "
            f"| {ratio} | {r.target} | {met} |"
        )
    notes = [f"{n}. {r.note}" for n, r in enumerate(results, 1) if r.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of already sorted values, nearest rank."""
    if not sorted_values:
        return math.nan
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def histogram_percentile(buckets: dict[int, int], q: float, *, width: float) -> float:
    """The q-th percentile of a histogram {bucket index: count} of ``width``-wide buckets."""
    total = sum(buckets.values())
    if not total:
        return math.nan
    wanted = max(1, math.ceil(q / 100 * total))
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= wanted:
            return (index + 0.5) * width
    return (max(buckets) + 0.5) * width


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            ]
        cpu = f"{names[0]} ×{len(names)}" if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        memory = "? RAM"
    versions = [f"Python {platform.python_version()}"]
    for command in (["psql", "--version"], ["redis-server", "--version"]):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
            versions.append(" ".join(out.split()[:3]))
        except (OSError, subprocess.SubprocessError):
            continue
    return f"{cpu}, {memory}, {platform.system()} {platform.release()}; " + ", ".join(versions)
