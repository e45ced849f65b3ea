"""Token buckets on a clock the test moves: refill, burst, retry time and the bucket table."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from wattbase.core import ratelimit
from wattbase.core.ratelimit import Rate, RateControl, TokenBuckets
from wattbase.errors import RateLimited
from wattbase.model.tenancy import ALL_SCOPES, ApiKey, Caller, Domain


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock)
    rate = Rate(per_second=2.0, burst=3)
    taken = [buckets.take("k", rate) for _ in range(4)]
    assert [d.allowed for d in taken] == [True, True, True, False]
    assert [d.remaining for d in taken] == [2, 1, 0, 0]
    assert taken[-1].retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("k", rate).allowed
    assert not buckets.take("k", rate).allowed
    clock.now += 100  # a long pause refills to the burst, no further
    assert [buckets.take("k", rate).allowed for _ in range(4)] == [True, True, True, False]


def test_buckets_are_separate_by_name() -> None:
    buckets = TokenBuckets(Clock())
    rate = Rate(per_second=1.0, burst=1)
    assert buckets.take("a", rate).allowed
    assert not buckets.take("a", rate).allowed
    assert buckets.take("b", rate).allowed


def test_empty_looks_without_taking() -> None:
    buckets = TokenBuckets(Clock())
    rate = Rate(per_second=1.0, burst=2)
    assert buckets.empty("a", rate) is None
    assert buckets.empty("a", rate) is None
    buckets.take("a", rate)
    assert buckets.empty("a", rate) is None
    buckets.take("a", rate)
    refusal = buckets.empty("a", rate)
    assert refusal is not None and refusal.retry_after == pytest.approx(1.0)


def test_the_table_drops_full_buckets_when_it_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_BUCKETS", 3)
    clock = Clock()
    buckets = TokenBuckets(clock)
    rate = Rate(per_second=1.0, burst=1)
    for name in "abc":
        buckets.take(name, rate)
    clock.now += 10
    buckets.take("d", rate)
    assert set(buckets._buckets) == {"d"}


def _caller(domain: Domain) -> Caller:
    key = ApiKey(uuid4(), domain.name, "", ALL_SCOPES, datetime.now(UTC))
    return Caller(domain=domain, key=key, scopes=ALL_SCOPES)


def test_a_domain_rate_overrides_the_default_and_the_refusal_names_the_limit() -> None:
    control = RateControl(Rate(1000.0, 1000), Rate(1.0, 1), Clock())
    own = _caller(Domain("slow", rate_per_second=0.5, rate_burst=2))
    control.admit(own)
    control.admit(own)
    with pytest.raises(RateLimited) as refused:
        control.admit(own)
    assert refused.value.limit == 2 and refused.value.retry_after == pytest.approx(2.0)
    assert "2 requests" in refused.value.message
    fast = _caller(Domain("fast"))
    for _ in range(50):
        control.admit(fast)


def test_failed_authentications_are_counted_per_address() -> None:
    control = RateControl(Rate(1000.0, 1000), Rate(1.0, 2), Clock())
    control.check_address("10.0.0.1")
    control.failed("10.0.0.1")
    control.failed("10.0.0.1")
    with pytest.raises(RateLimited):
        control.failed("10.0.0.1")
    with pytest.raises(RateLimited):
        control.check_address("10.0.0.1")
    control.check_address("10.0.0.2")
