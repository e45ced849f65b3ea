"""The three write modes against a plain model: a dict per series of what must be stored."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKENDS, clean_database, settings_for
from wattbase.core.access import authenticate, create_domain, create_key
from wattbase.core.reads import ReadSpec, read_series
from wattbase.core.series import SeriesDraft, create_series
from wattbase.core.things import ThingDraft, create_thing
from wattbase.core.writes import ByNodeTag, ByUuid, PointsIn, SeriesTarget, write_points
from wattbase.errors import NotFound
from wattbase.model.points import WriteMode
from wattbase.model.tenancy import ALL_SCOPES, Caller
from wattbase.model.things import Series, Thing
from wattbase.storage import open_store
from wattbase.storage.base import Store

# Two series, one with bounds; few timestamps and values, so writes collide often.
LOWER, UPPER = 1.0, 4.0
STAMPS = st.integers(min_value=0, max_value=12).map(
    lambda i: 1_700_000_000_000_000 + i * 60_000_000
)
VALUES = st.integers(min_value=0, max_value=5).map(float)
POINTS = st.lists(st.tuples(STAMPS, VALUES), min_size=0, max_size=8)
BATCH = st.tuples(st.sampled_from([0, 1]), st.booleans(), POINTS)
REQUEST = st.tuples(st.sampled_from(list(WriteMode)), st.lists(BATCH, min_size=1, max_size=3))


@dataclass
class World:
    store: Store
    caller: Caller
    thing: Thing
    names: Iterator[int]


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("model")
    if request.param == "postgres":
        clean_database(request.getfixturevalue("pg_database"))
    store = open_store(settings_for(request.param, folder))
    try:
        create_domain(store, "model", "UTC")
        _, secret = create_key(store, "model", ALL_SCOPES)
        caller = authenticate(store, "model", secret)
        thing = create_thing(store, caller, ThingDraft(name="meter"))
        yield World(store, caller, thing, itertools.count())
    finally:
        store.close()


def expected_counts(
    model: dict[int, float], sent: list[tuple[int, float]], mode: WriteMode, bounded: bool
) -> dict[str, int]:
    """Apply one series' share of a request to ``model``; return what must be reported."""
    counts = dict.fromkeys(
        ("inserted", "updated", "deleted", "skipped", "conflicting", "out_of_bounds"), 0
    )
    last: dict[int, float] = {}
    for ts, v in sent:
        if ts in last:
            counts["skipped"] += 1
        last[ts] = v
    kept = {}
    for ts, v in last.items():
        if bounded and not LOWER <= v <= UPPER:
            counts["out_of_bounds"] += 1
        else:
            kept[ts] = v
    if mode is WriteMode.REPLACE_WINDOW:
        # The window is what the client sent, out-of-bounds points included.
        if last:
            lo, hi = min(last), max(last)
            doomed = [ts for ts in model if lo <= ts <= hi]
            counts["deleted"] = len(doomed)
            for ts in doomed:
                del model[ts]
        model.update(kept)
        counts["inserted"] = len(kept)
        return counts
    for ts, v in kept.items():
        if ts not in model:
            model[ts] = v
            counts["inserted"] += 1
        elif model[ts] == v:
            counts["skipped"] += 1
        elif mode is WriteMode.UPDATE_WINDOW:
            model[ts] = v
            counts["updated"] += 1
        else:
            counts["skipped"] += 1
            counts["conflicting"] += 1
    return counts


def _target(series: Series, thing: Thing, by_tag: bool) -> SeriesTarget:
    return ByNodeTag(thing.node_id, series.name) if by_tag else ByUuid(series.uuid)


def _stored(store: Store, series: Series) -> dict[int, float]:
    with store.read() as session:
        page = read_series(session, series, ReadSpec())
    return dict(zip(page.ts.tolist(), page.v.tolist(), strict=True))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(requests=st.lists(REQUEST, min_size=1, max_size=5))
def test_write_modes_match_the_model(
    world: World, requests: list[tuple[WriteMode, list[tuple[int, bool, list[tuple[int, float]]]]]]
) -> None:
    # Fresh series per example: the module's store is shared, the state under test is not.
    run = next(world.names)
    series = [
        create_series(world.store, world.caller, world.thing.uuid, SeriesDraft(name=f"free-{run}")),
        create_series(
            world.store,
            world.caller,
            world.thing.uuid,
            SeriesDraft(name=f"bounded-{run}", lower_bound=LOWER, upper_bound=UPPER),
        ),
    ]
    models: list[dict[int, float]] = [{}, {}]
    for mode, batches in requests:
        points_in = [
            PointsIn(
                target=_target(series[which], world.thing, by_tag),
                ts=np.array([ts for ts, _ in pts], dtype=np.int64),
                v=np.array([v for _, v in pts], dtype=np.float64),
                place=f"[{i}]",
            )
            for i, (which, by_tag, pts) in enumerate(batches)
        ]
        reports = write_points(world.store, world.caller, points_in, mode)

        # One report per series, in the order each series first appears in the request.
        order = list(dict.fromkeys(which for which, _, _ in batches))
        assert [r.series.uuid for r in reports] == [series[w].uuid for w in order]
        for report, which in zip(reports, order, strict=True):
            sent = [p for w, _, pts in batches if w == which for p in pts]
            want = expected_counts(models[which], sent, mode, bounded=which == 1)
            assert report.counts.as_dict() == want, (mode, sent)
        for s, model in zip(series, models, strict=True):
            assert _stored(world.store, s) == model


def test_a_failing_request_changes_nothing(world: World) -> None:
    """Atomicity: a bad second batch leaves the first one's series untouched."""
    good = create_series(world.store, world.caller, world.thing.uuid, SeriesDraft(name="atomic"))
    one = np.array([1_700_000_000_000_000], dtype=np.int64)
    batches = [
        PointsIn(ByUuid(good.uuid), one, np.array([1.0]), "[0]"),
        PointsIn(ByNodeTag(999_999, "x"), one, np.array([1.0]), "[1]"),
    ]
    with pytest.raises(NotFound) as caught:
        write_points(world.store, world.caller, batches, WriteMode.INSERT)
    assert caught.value.param == "[1].node_id"
    assert _stored(world.store, good) == {}


def test_an_append_after_a_failed_one_and_an_older_write_is_counted_right(world: World) -> None:
    """Appends skip the duplicate check; a failed append and a write into the past must
    not make a later append of stored points count them as new."""
    series = create_series(world.store, world.caller, world.thing.uuid, SeriesDraft(name="tail"))
    minute = 60_000_000
    first = 1_700_000_000_000_000 + minute * np.arange(10, dtype=np.int64)
    later = first + 10 * minute

    def send(ts: np.ndarray, *more: PointsIn) -> list[dict[str, int]]:
        batch = PointsIn(ByUuid(series.uuid), ts, np.ones(len(ts)), "[0]")
        reports = write_points(world.store, world.caller, [batch, *more], WriteMode.INSERT)
        return [r.counts.as_dict() for r in reports]

    assert send(first)[0]["inserted"] == 10
    bad = PointsIn(ByNodeTag(999_999, "x"), first[:1], np.array([1.0]), "[1]")
    with pytest.raises(NotFound):
        send(later, bad)
    assert send(first[:3])[0]["skipped"] == 3
    again = send(np.concatenate([first[-2:], later]))[0]
    assert (again["inserted"], again["skipped"], again["conflicting"]) == (10, 2, 0)
    assert len(_stored(world.store, series)) == 20
