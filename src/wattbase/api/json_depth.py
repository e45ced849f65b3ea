"""A cheap JSON nesting check that runs on the body as it streams in, before any decoding.

Decoders recurse: a body of a million ``[`` costs a parser stack (or a RecursionError) before
it fails. This scan only counts brackets outside strings, chunk by chunk, with numpy, and
refuses the body at the first bracket that goes past the limit.
"""

from __future__ import annotations

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattbase.api.errors import BodyRejected
from wattbase.errors import InvalidRequest

_QUOTE = ord('"')
# +1 for an opening bracket, -1 for a closing one; the quote is "interesting" but counts 0.
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[[ord("["), ord("{")]] = 1
_DELTA[[ord("]"), ord("}")]] = -1
_INTERESTING = _DELTA != 0
_INTERESTING[_QUOTE] = True


class DepthScanner:
    """Feed it a JSON document in chunks; ``feed`` says False once it nests past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the last chunk ended in an unpaired backslash

    def feed(self, chunk: bytes) -> bool:
        if self.escaped and chunk:
            chunk, self.escaped = chunk[1:], False
        # Escapes only occur in strings: drop escaped backslashes, then escaped quotes, so
        # every quote left opens or closes a string.
        chunk = chunk.replace(b"\\\\", b"").replace(b'\\"', b"")
        if chunk.endswith(b"\\"):
            chunk, self.escaped = chunk[:-1], True
        found = np.frombuffer(chunk, dtype=np.uint8)
        found = found[_INTERESTING[found]]
        if not found.size:
            return True
        inside = (np.cumsum(found == _QUOTE) + self.in_string) & 1
        depths = self.depth + np.cumsum(np.where(inside == 0, _DELTA[found], 0))
        if int(depths.max()) > self.limit:
            return False
        self.depth = int(depths[-1])
        self.in_string = bool(inside[-1])
        return True


# Bodies that are not JSON; every other body is scanned, since the point routes decode
# what they are sent as JSON whatever its content type says.
NOT_JSON = (b"multipart/form-data", b"application/x-www-form-urlencoded")


def scanned(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    return content_type.lower() not in NOT_JSON


class JsonDepth:
    """Refuse (400) JSON bodies nested deeper than ``limit`` while they stream in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scanned(scope):
            await self.app(scope, receive, send)
            return
        scanner = DepthScanner(self.limit)

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not scanner.feed(message.get("body", b"")):
                raise BodyRejected(
                    InvalidRequest(
                        f"the JSON body nests deeper than {self.limit} levels "
                        "(WATTBASE_MAX_JSON_DEPTH)",
                        param="body",
                    )
                )
            return message

        await self.app(scope, checked_receive, send)
