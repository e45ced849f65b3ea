"""The results table: one row per system, each peer's figure with wattbase's advantage over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    higher_is_better: bool
    scale: float = 1.0
    digits: int = 1


FIGURES = (
    Figure("ingest", "ingest Mpt/s", True, 1e-6, 2),
    Figure("rewrite", "rewrite Mpt/s", True, 1e-6, 2),
    Figure("q1_ms", "Q1 ms", False),
    Figure("q2_ms", "Q2 ms", False),
    Figure("q3_ms", "Q3 ms", False, digits=2),
    Figure("q4_ms", "Q4 ms", False),
    Figure("mixed_rps", "mixed req/s", True, digits=0),
    Figure("mixed_p99_ms", "p99 ms", False),
    Figure("bytes_per_point", "bytes/pt", False, digits=2),
    Figure("bytes_compacted", "compacted bytes/pt", False, digits=2),
    Figure("peak_rss_mb", "peak RSS MB", False, digits=0),
)

GOALS: dict[str, float] = {
    "ingest": 1.0e6,
    "q1_ms": 30,
    "q2_ms": 30,
    "q3_ms": 2,
    "q4_ms": 20,
    "mixed_rps": 2000,
    "mixed_p99_ms": 50,
    "bytes_per_point": 3,
}

REFERENCE = {
    "name": "NODA Self-host (R220, published)",
    "figures": {"q4_ms": 174.0, "mixed_rps": 200.0},
    "note": "reference, not re-run: a write of 100 points 49 ms",
}

BASELINE = "wattbase (embedded)"


def advantage(figure: Figure, ours: float | None, theirs: float | None) -> float | None:
    """How many times better wattbase is than a peer (>1 better, <1 worse)."""
    if not ours or not theirs:
        return None
    return ours / theirs if figure.higher_is_better else theirs / ours


def number(figure: Figure, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * figure.scale:,.{figure.digits}f}"


def meets(figure: Figure, value: float | None) -> bool | None:
    goal = GOALS.get(figure.key)
    if goal is None or value is None:
        return None
    return value >= goal if figure.higher_is_better else value <= goal


def cell(figure: Figure, value: float | None, ours: float | None, baseline: bool) -> str:
    text = number(figure, value)
    if baseline:
        met = meets(figure, value)
        return text if met is None else f"{text} {'ok' if met else 'MISS'}"
    ratio = advantage(figure, ours, value)
    return text if ratio is None else f"{text} ({ratio:.2f}x)"


def rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Header, goal row, one row per system (and the reference row)."""
    ours = next((r["figures"] for r in results if r["name"] == BASELINE), {})
    table = [["system", *(f.title for f in FIGURES)]]
    table.append(["goal (embedded)", *(number(f, GOALS.get(f.key)) for f in FIGURES)])
    for r in [*results, REFERENCE]:
        figures = r.get("figures", {})
        table.append(
            [
                r["name"],
                *(
                    cell(f, figures.get(f.key), ours.get(f.key), r["name"] == BASELINE)
                    for f in FIGURES
                ),
            ]
        )
    return table


def render(results: list[dict[str, Any]]) -> str:
    """A Markdown table, then each row's notes; ``(2.00x)``: wattbase is 2x better."""
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append("")
    lines.append(
        "(N.NNx) after a peer's figure: wattbase (embedded), measured in the same run, is N.NN "
        "times better (faster, smaller); below 1 it is worse. ok/MISS: against the goal row."
    )
    for r in [*results, REFERENCE]:
        notes = r.get("notes") or ([r["note"]] if r.get("note") else [])
        for note in notes:
            lines.append(f"- {r['name']}: {note}")
    return "\n".join(lines)
