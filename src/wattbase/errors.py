"""The exception tree. Every class knows its HTTP status and error ``type``.

    WattbaseError (500 internal_error)
    ├── InvalidRequest (400 invalid_request)
    │   ├── UnitMismatch (400 invalid_unit)
    │   └── InvalidScope (400 invalid_scope)
    ├── Unauthorized (401 unauthorized)
    │   └── ExpiredToken (401 unauthorized)
    ├── Forbidden (403 forbidden)
    ├── NotFound (404 not_found)
    ├── RequestTimeout (408 request_timeout)
    ├── Conflict (409 conflict)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── RateLimited (429 rate_limited)
    └── StoreUnavailable (503 store_unavailable)

Nothing here knows about HTTP frameworks; the faces turn these into their own bodies.
"""

from __future__ import annotations


class WattbaseError(Exception):
    status = 500
    type = "internal_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequest(WattbaseError):
    status = 400
    type = "invalid_request"


class UnitMismatch(InvalidRequest):
    type = "invalid_unit"


class InvalidScope(InvalidRequest):
    """A token asked for a scope its key does not hold (OAuth's ``invalid_scope``)."""

    type = "invalid_scope"


class Unauthorized(WattbaseError):
    status = 401
    type = "unauthorized"

    def __init__(self, message: str, *, challenge: str = 'Key realm="wattbase"') -> None:
        super().__init__(message)
        # The WWW-Authenticate value: the scheme the face expects.
        self.challenge = challenge


class ExpiredToken(Unauthorized):
    """A genuine token past its time: not a guess, so not counted as a failed login."""


class Forbidden(WattbaseError):
    status = 403
    type = "forbidden"


class NotFound(WattbaseError):
    status = 404
    type = "not_found"


class RequestTimeout(WattbaseError):
    status = 408
    type = "request_timeout"


class Conflict(WattbaseError):
    status = 409
    type = "conflict"


class PayloadTooLarge(WattbaseError):
    status = 413
    type = "payload_too_large"


class RateLimited(WattbaseError):
    status = 429
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, limit: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit


class StoreUnavailable(WattbaseError):
    status = 503
    type = "store_unavailable"
