"""The benchmark harness's own pure parts: data, encodings and the table (no peers, no timings)."""

from __future__ import annotations

import json

import numpy as np
from bench.protocols import count_points, line_protocol, raw_read, v1_body
from bench.report import FIGURES, advantage, render

from bench import data


def test_the_same_seed_gives_the_same_values_and_another_seed_others() -> None:
    a = data.values(3, 1_735_689_600, 1440)
    assert np.array_equal(a, data.values(3, 1_735_689_600, 1440))
    assert not np.array_equal(a, data.values(4, 1_735_689_600, 1440))
    assert np.array_equal(a, np.round(a, 2))
    # The daily cycle: the afternoon is warmer than the small hours.
    assert a[14 * 60 : 15 * 60].mean() > a[2 * 60 : 3 * 60].mean() + 5


def test_spans_cover_every_point_once_in_requests_of_the_given_size() -> None:
    requests = list(data.spans(3, 7, 5))
    assert [sum(hi - lo for _, lo, hi in parts) for parts in requests] == [5, 5, 5, 5, 1]
    seen = [(s, i) for parts in requests for s, lo, hi in parts for i in range(lo, hi)]
    assert seen == [(s, i) for s in range(3) for i in range(7)]


def test_line_protocol_has_one_line_per_point_in_seconds() -> None:
    ts = np.array([1_735_689_600, 1_735_689_660])
    body = line_protocol([("s0001", ts, np.array([1.5, -2.25]))])
    assert body == b"m,s=s0001 v=1.5 1735689600\nm,s=s0001 v=-2.25 1735689660\n"


def test_v1_body_is_json_the_v1_face_reads() -> None:
    ts = np.array([1_735_689_600])
    doc = json.loads(v1_body([("s0001", ts, np.array([12.34]))]))
    assert doc == [
        {"node_id": 1, "tag": "s0001", "data": [{"v": 12.34, "ts": "2025-01-01T00:00:00Z"}]}
    ]
    answer = json.dumps({"timeseries": [{"data": doc[0]["data"] * 3}]}).encode()
    assert count_points("wattbase", answer) == 3


def test_raw_reads_name_the_series_and_window() -> None:
    path = raw_read("influxdb", "t00", 1_735_689_600, 1_735_776_000, 600)
    assert "s%3D%27t00%27" in path and "2025-01-02T00%3A00%3A00Z" in path
    assert "step=600s" in raw_read("victoria", "t00", 0, 86_400, 600)


def test_ratios_say_how_many_times_better_wattbase_is() -> None:
    ingest, q1 = FIGURES[0], FIGURES[2]
    assert advantage(ingest, 2.0e6, 0.5e6) == 4.0
    assert advantage(q1, 10.0, 50.0) == 5.0
    assert advantage(q1, None, 50.0) is None
    results = [
        {"name": "wattbase (embedded)", "figures": {"ingest": 2.0e6, "q1_ms": 10.0}},
        {"name": "InfluxDB 1.6", "figures": {"ingest": 0.5e6, "q1_ms": 50.0}, "notes": ["x"]},
        {"name": "VictoriaMetrics", "figures": {}, "notes": ["not installed"]},
    ]
    table = render(results)
    influx = next(line for line in table.splitlines() if line.startswith("| InfluxDB"))
    assert "0.50 (4.00x)" in influx and "50.0 (5.00x)" in influx
    ours = next(line for line in table.splitlines() if line.startswith("| wattbase"))
    assert "2.00 ok" in ours and "10.0 ok" in ours
    assert "- VictoriaMetrics: not installed" in table
