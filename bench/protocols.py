"""How each system is asked: request paths and bodies, pure functions shared with the load
generator. Flavours: ``wattbase`` (EnergyView v1), ``influxdb`` (1.x), ``victoria``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np

from bench.data import rfc3339

DOMAIN = "bench"
NODE = 1
DB = "bench"
MEASUREMENT = "m"

# (series name, epoch seconds, values)
Item = tuple[str, np.ndarray, np.ndarray]


def v1_body(items: Sequence[Item]) -> bytes:
    """A v1 write body: ``[{"node_id", "tag", "data": [{"v", "ts"}, ...]}, ...]``."""
    out = []
    for name, ts, v in items:
        data = ",".join(
            f'{{"v":{x},"ts":"{t}"}}' for x, t in zip(v.tolist(), rfc3339(ts), strict=True)
        )
        out.append(f'{{"node_id":{NODE},"tag":{json.dumps(name)},"data":[{data}]}}')
    return ("[" + ",".join(out) + "]").encode()


def line_protocol(items: Sequence[Item]) -> bytes:
    """InfluxDB line protocol, second precision: ``m,s=<name> v=<value> <epoch s>``."""
    lines = []
    for name, ts, v in items:
        head = f"{MEASUREMENT},s={name} v="
        lines.extend(f"{head}{x} {t}" for x, t in zip(v.tolist(), ts.tolist(), strict=True))
    return ("\n".join(lines) + "\n").encode()


def write_path(flavor: str, *, update: bool = False) -> str:
    """Where writes go; ``update`` asks wattbase for ``overwrite=update_window``."""
    if flavor == "wattbase":
        return f"/{DOMAIN}/api/v1/timeseries?silent=true" + (
            "&overwrite=update_window" if update else ""
        )
    if flavor == "influxdb":
        return f"/write?db={DB}&precision=s"
    return "/write?precision=s"


def body(flavor: str, items: Sequence[Item]) -> bytes:
    return v1_body(items) if flavor == "wattbase" else line_protocol(items)


def write_request(flavor: str, items: Sequence[Item], *, update: bool = False) -> tuple[str, bytes]:
    return write_path(flavor, update=update), body(flavor, items)


def count_points(flavor: str, answer: bytes) -> int:
    """Points (or buckets) in a read answer, summed over its series."""
    doc = json.loads(answer)
    if flavor == "wattbase":
        return sum(len(s["data"]) for s in doc["timeseries"])
    if flavor == "influxdb":
        return sum(len(s["values"]) for r in doc["results"] for s in r.get("series", []))
    return sum(len(s["values"]) for s in doc["data"]["result"])


def _iso(t: int) -> str:
    return rfc3339(np.array([t]))[0]


def _influx(q: str) -> str:
    return f"/query?{urlencode({'db': DB, 'q': q})}"


def _vm(query: str, start: int, end: int, step: int) -> str:
    # nocache: VictoriaMetrics would otherwise answer repeats from its rollup cache.
    args = {"query": query, "start": start, "end": end - 1, "step": f"{step}s", "nocache": 1}
    return f"/api/v1/query_range?{urlencode(args)}"


def _where(name: str, start: int, end: int) -> str:
    return f"s='{name}' AND time >= '{_iso(start)}' AND time < '{_iso(end)}'"


def raw_read(flavor: str, name: str, start: int, end: int, step: int) -> str:
    """Raw points of one series in ``[start, end)`` (``step``: the series' spacing, for VM)."""
    if flavor == "wattbase":
        args = {"node_id": NODE, "tag": name, "start": _iso(start), "end": _iso(end)}
        return f"/{DOMAIN}/api/v1/timeseries?{urlencode(args)}"
    if flavor == "influxdb":
        return _influx(f"SELECT v FROM {MEASUREMENT} WHERE {_where(name, start, end)}")
    return _vm(f'{MEASUREMENT}_v{{s="{name}"}}', start, end, step)


def hourly_reads(flavor: str, name: str, start: int, end: int) -> list[str]:
    """Q1: hourly mean, min, max and count; wattbase and VM need one request per aggregate."""
    if flavor == "wattbase":
        return [
            f"/{DOMAIN}/api/v1/timeseries?"
            + urlencode(
                {
                    "node_id": NODE,
                    "tag": name,
                    "start": _iso(start),
                    "end": _iso(end),
                    "resolution": "hour",
                    "aggregate": agg,
                }
            )
            for agg in ("avg", "min", "max", "count")
        ]
    if flavor == "influxdb":
        q = (
            f"SELECT mean(v), min(v), max(v), count(v) FROM {MEASUREMENT} "
            f"WHERE {_where(name, start, end)} GROUP BY time(1h)"
        )
        return [_influx(q)]
    selector = f'{MEASUREMENT}_v{{s="{name}"}}[1h]'
    return [
        _vm(f"{fn}({selector})", start + 3600, end + 1, 3600)
        for fn in ("avg_over_time", "min_over_time", "max_over_time", "count_over_time")
    ]


def daily_sums(flavor: str, name: str, start: int, end: int, zone: str) -> list[str] | None:
    """Q2: sums per local day in ``zone``; None when the system cannot (VictoriaMetrics)."""
    if flavor == "wattbase":
        args = {
            "node_id": NODE,
            "tag": name,
            "start": _iso(start),
            "end": _iso(end),
            "resolution": "day",
            "aggregate": "sum",
        }
        return [f"/{DOMAIN}/api/v1/timeseries?{urlencode(args)}"]
    if flavor == "influxdb":
        q = (
            f"SELECT sum(v) FROM {MEASUREMENT} WHERE {_where(name, start, end)} "
            f"GROUP BY time(1d) tz('{zone}')"
        )
        return [_influx(q)]
    return None


def headers(flavor: str, secret: str | None) -> dict[str, str]:
    if flavor == "wattbase":
        return {"Authorization": f"Key {secret}", "Content-Type": "application/json"}
    return {"Content-Type": "text/plain"}
