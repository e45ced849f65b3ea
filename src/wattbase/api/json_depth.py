"""A cheap JSON nesting check that runs on the body as it streams in, before any decoding.

Decoders recurse: a body of a million ``[`` costs a parser stack (or a RecursionError) before
it fails. This scan only counts brackets outside strings, chunk by chunk, and refuses the
body at the first bracket that goes past the limit. It works on the few structural bytes
left after ``bytes.translate`` drops the rest: a 10,000-point v1 body (450 kB) takes about
half the time msgspec takes to decode it (~1.5 ms against ~3 ms here).
"""

from __future__ import annotations

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattbase.api.errors import BodyRejected
from wattbase.errors import InvalidRequest

_QUOTE = ord('"')
# +1 for an opening bracket, -1 for a closing one, 0 for the quote.
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[[ord("["), ord("{")]] = 1
_DELTA[[ord("]"), ord("}")]] = -1
_OTHER_BYTES = bytes(b for b in range(256) if b not in b'[]{}"')


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
        if b"\\" in chunk:
            # Escapes only occur in strings: drop escaped backslashes, then escaped quotes,
            # so every quote left opens or closes a string.
            chunk = chunk.replace(b"\\\\", b"").replace(b'\\"', b"")
            if chunk.endswith(b"\\"):
                chunk, self.escaped = chunk[:-1], True
        # Only brackets and quotes matter; two quotes in a row (a string without brackets)
        # change nothing, so they go too.
        marks = chunk.translate(None, _OTHER_BYTES).replace(b'""', b"")
        if not marks:
            return True
        # Removing adjacent pairs ({} of a point, [] of an empty list) hides at most one
        # level a replace and leaves the end state as it was: a body well under the limit
        # passes on the short rest; one near it is walked in full.
        reduced = marks.replace(b"{}", b"").replace(b"[]", b"")
        deepest, depth, inside = self._walk(reduced)
        if deepest + 2 > self.limit:
            deepest, depth, inside = self._walk(marks)
            if deepest > self.limit:
                return False
        self.depth, self.in_string = depth, inside
        return True

    def _walk(self, marks: bytes) -> tuple[int, int, bool]:
        """The deepest level reached, and the depth and string state at the end."""
        if not marks:
            return self.depth, self.depth, self.in_string
        found = np.frombuffer(marks, dtype=np.uint8)
        inside = (np.cumsum(found == _QUOTE) + self.in_string) & 1
        depths = self.depth + np.cumsum(np.where(inside == 0, _DELTA[found], 0))
        # From the depth the chunk starts at: pairs removed before its first closing bracket
        # (``[{}]`` of ``[{}]]``) went deeper than anything after it.
        return max(self.depth, int(depths.max())), int(depths[-1]), bool(inside[-1])


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
