"""Token buckets: requests per second and burst, per API key and per failing client address.

A bucket holds up to ``burst`` tokens and gains ``per_second`` tokens a second; a request
takes one, or is refused with the time until one is there. Buckets live in the process:
with several worker processes each has its own, so the rate a key really gets is the
configured one times the number of workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wattbase.errors import RateLimited
from wattbase.model.tenancy import Caller, Domain

# Past this many buckets, the full ones (idle long enough to refill) are dropped, so a
# stream of new client addresses cannot grow the table without bound.
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class TokenBuckets:
    """Named buckets; safe to use from several threads (sync routes run in a pool)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refill(self, name: str, rate: Rate, now: float) -> _Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._drop_full(rate, now)
            bucket = self._buckets[name] = _Bucket(float(rate.burst), now)
        else:
            gained = (now - bucket.stamp) * rate.per_second
            bucket.tokens = min(float(rate.burst), bucket.tokens + gained)
            bucket.stamp = now
        return bucket

    def _drop_full(self, rate: Rate, now: float) -> None:
        idle = rate.burst / rate.per_second
        for name in [n for n, b in self._buckets.items() if now - b.stamp >= idle]:
            del self._buckets[name]

    def take(self, name: str, rate: Rate) -> Decision:
        """Take a token from ``name``'s bucket if there is one."""
        with self._lock:
            now = self._clock()
            bucket = self._refill(name, rate, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return Decision(True, rate.burst, int(bucket.tokens), 0.0)
            wait = (1.0 - bucket.tokens) / rate.per_second
            return Decision(False, rate.burst, 0, wait)

    def empty(self, name: str, rate: Rate) -> Decision | None:
        """A refusal when ``name``'s bucket holds no whole token; None otherwise. Takes none."""
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                return None
            bucket = self._refill(name, rate, self._clock())
            if bucket.tokens >= 1.0:
                return None
            return Decision(False, rate.burst, 0, (1.0 - bucket.tokens) / rate.per_second)


def refuse(decision: Decision, what: str) -> RateLimited:
    seconds = max(1, math.ceil(decision.retry_after))
    return RateLimited(
        f"{what}: the limit is {decision.limit} requests in a burst; retry in {seconds} s",
        retry_after=decision.retry_after,
        limit=decision.limit,
    )


def domain_rate(domain: Domain, default: Rate) -> Rate:
    """The domain's own rate where it has one (``wattbase domain set-rate``), else ``default``."""
    return Rate(
        domain.rate_per_second if domain.rate_per_second is not None else default.per_second,
        domain.rate_burst if domain.rate_burst is not None else default.burst,
    )


class RateControl:
    """The two limits every face applies: requests per key, failed logins per address."""

    def __init__(
        self, default: Rate, failures: Rate, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default = default
        self.failures = failures
        self._keys = TokenBuckets(clock)
        self._addresses = TokenBuckets(clock)

    def admit(self, caller: Caller) -> Decision:
        """Take a token from the caller's key; 429 when its bucket is empty."""
        rate = domain_rate(caller.domain, self.default)
        decision = self._keys.take(str(caller.key.uuid), rate)
        if not decision.allowed:
            raise refuse(decision, "too many requests with this key")
        return decision

    def check_address(self, address: str) -> None:
        """429 before any secret is looked at, while the address has no failures left."""
        decision = self._addresses.empty(address, self.failures)
        if decision is not None:
            raise refuse(decision, "too many failed authentications from this address")

    def failed(self, address: str) -> None:
        """Count a failed authentication; 429 instead of 401 once the address is out."""
        decision = self._addresses.take(address, self.failures)
        if not decision.allowed:
            raise refuse(decision, "too many failed authentications from this address")
