"""Timestamps in and out: RFC 3339 strings to UTC microseconds, and back, vectorised.

The fast path covers the form nearly every client sends (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``)
with numpy's parser; anything else goes through ``datetime.fromisoformat`` one by one.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from wattbase.core.clock import offset_steps, to_micros
from wattbase.errors import InvalidRequest
from wattbase.model.points import Micros

NAT = np.iinfo(np.int64).min
_Z, _T, _SPACE = ord("Z"), ord("T"), ord(" ")
_MIN_LEN = len("2023-01-01T00:00:00Z")


def parse_one(text: str | float, naive_zone: ZoneInfo | None) -> int:
    """One timestamp: an RFC 3339 string, or a number of seconds since 1970 (UTC)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not np.isfinite(text):
            raise ValueError("not a finite number of seconds")
        return round(text * 1_000_000)
    if not isinstance(text, str):
        raise ValueError("expected a string")
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        if naive_zone is None:
            raise ValueError("has no UTC offset (add Z or +HH:MM)")
        when = when.replace(tzinfo=naive_zone)
    return to_micros(when)


def _ascii_whole_seconds(texts: Sequence[str]) -> Micros | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` strings through one ASCII buffer; None for anything else.

    Joining and encoding is done in C and gives one byte per character, where a numpy
    string array costs four and a copy: about half of the time of parsing a write.
    """
    if min(map(len, texts)) != _MIN_LEN or max(map(len, texts)) != _MIN_LEN:
        return None
    try:
        raw = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        return None
    codes = np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), _MIN_LEN)
    sep = codes[:, 10]
    if (codes[:, -1] != _Z).any() or ((sep != _T) & (sep != _SPACE)).any():
        return None
    return _whole_seconds_utc(codes)


def _fast(texts: Sequence[str]) -> Micros | None:
    """Parse ``...Z`` strings in bulk; None when any string needs the careful path."""
    whole = _ascii_whole_seconds(texts)
    if whole is not None:
        return whole
    try:
        arr = np.asarray(texts, dtype=np.str_)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 1 or arr.dtype.itemsize // 4 < _MIN_LEN:
        return None
    codes = arr.view(np.uint32).reshape(len(arr), -1).copy()
    lengths = np.char.str_len(arr)
    rows = np.arange(len(arr))
    last = lengths - 1
    if (lengths < _MIN_LEN).any() or (codes[rows, last] != _Z).any():
        return None
    sep = codes[:, 10]
    if ((sep != _T) & (sep != _SPACE)).any():
        return None
    if (lengths == _MIN_LEN).all():
        whole = _whole_seconds_utc(codes[:, :_MIN_LEN])
        if whole is not None:
            return whole
    codes[rows, last] = 0  # drop the Z: numpy reads the rest as UTC wall-clock time
    stripped = codes.view(arr.dtype).reshape(len(arr))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            parsed = stripped.astype("datetime64[us]").astype(np.int64)
        except (ValueError, TypeError, Warning):
            return None
    if (parsed == NAT).any():
        return None
    return parsed


_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_SEPARATORS = {4: ord("-"), 7: ord("-"), 13: ord(":"), 16: ord(":")}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _whole_seconds_utc(codes: np.ndarray) -> Micros | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` by digit arithmetic; None for anything numpy should judge.

    numpy's string-to-datetime cast costs about 0.2 µs a string, the bulk of decoding a
    write; this takes only well-formed, valid times and leaves every other case unchanged.
    """
    digits = codes[:, _DIGITS].astype(np.int64) - ord("0")
    if ((digits < 0) | (digits > 9)).any():
        return None
    if any((codes[:, at] != code).any() for at, code in _SEPARATORS.items()):
        return None
    pairs = digits[:, 0::2] * 10 + digits[:, 1::2]
    year = pairs[:, 0] * 100 + pairs[:, 1]
    month, day, hour, minute, second = (pairs[:, i] for i in range(2, 7))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    if ((month < 1) | (month > 12)).any():
        return None
    last_day = _MONTH_DAYS[month] + ((month == 2) & leap)
    if ((day < 1) | (day > last_day) | (hour > 23) | (minute > 59) | (second > 59)).any():
        return None
    # Days since 1970-01-01 of a civil date (H. Hinnant's algorithm), years from March.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second
    out: Micros = seconds * 1_000_000
    return out


_WHOLE_Z = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def _one_whole_second(text: str) -> int | None:
    """One ``YYYY-MM-DDTHH:MM:SSZ``, as ``_whole_seconds_utc`` reads it; None for the rest.

    A query's ``start`` and ``end`` are one string each, where numpy's fixed costs would
    be most of the request's parsing time.
    """
    match = _WHOLE_Z.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return to_micros(when)


def parse_many(
    texts: Sequence[str | float],
    naive_zone: ZoneInfo | None,
    place: Callable[[int], str],
) -> Micros:
    """Parse every timestamp, or raise 400 naming the first bad one by ``place(index)``."""
    if len(texts) == 1 and type(texts[0]) is str:
        one = _one_whole_second(texts[0])
        if one is not None:
            return np.array([one], dtype=np.int64)
    # set(map(type, ...)) runs in C, a tenth of the time of all() over a generator.
    if texts and set(map(type, texts)) == {str}:
        fast = _fast(texts)  # type: ignore[arg-type]
        if fast is not None:
            return fast
    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        try:
            out[i] = parse_one(text, naive_zone)
        except (ValueError, OverflowError, TypeError) as exc:
            raise InvalidRequest(
                f"timestamp {text!r} is not RFC 3339: {exc}", param=place(i)
            ) from exc
    return out


def format_many(micros: Micros, tz: ZoneInfo) -> list[str]:
    """RFC 3339 strings on the zone's clock: ``Z`` for UTC, else ``+HH:MM``."""
    if len(micros) == 0:
        return []
    codes = format_codes(micros, tz)
    # numpy's bytes items drop the NUL padding.
    text = codes.view(f"S{codes.shape[1]}").ravel().astype(f"U{codes.shape[1]}")
    return list(text.tolist())


def format_codes(micros: Micros, tz: ZoneInfo) -> npt.NDArray[np.uint8]:
    """``format_many`` as rows of ASCII bytes, padded with NUL where a row is shorter.

    Answers are assembled from these rows without a Python string per timestamp.
    """
    if len(micros) == 0:
        return np.empty((0, 0), dtype=np.uint8)
    whole_seconds = bool((micros % 1_000_000 == 0).all())
    if tz.key == "UTC":
        local, suffixes = micros, np.array(["Z"])
        which = np.zeros(len(micros), dtype=np.intp)
    else:
        steps = offset_steps(tz, int(micros.min()), int(micros.max()))
        starts = np.array([s for s, _ in steps], dtype=np.int64)
        offsets = np.array([o for _, o in steps], dtype=np.int64)
        # RFC 3339 offsets have no seconds, so local mean times (e.g. Stockholm's +01:12:12
        # before 1879) would name the wrong instant: those stamps are written in UTC instead.
        whole_minutes = offsets % 60_000_000 == 0
        offsets = np.where(whole_minutes, offsets, 0)
        which = np.searchsorted(starts, micros, side="right") - 1
        which[which < 0] = 0
        local = micros + offsets[which]
        suffixes = np.array(
            [
                _suffix(int(o)) if whole else "Z"
                for o, whole in zip(offsets, whole_minutes, strict=True)
            ]
        )
    if local.min() < _FIRST_US or local.max() >= _AFTER_LAST_US:
        unit: Literal["s", "us"] = "s" if whole_seconds else "us"
        text = np.datetime_as_string(local.astype("datetime64[us]"), unit=unit)
        return _codes(np.char.add(text, suffixes[which]))
    return _civil_text(local, whole_seconds, suffixes, which)


# Years 1-9999: the four-digit years that the digit arithmetic below writes.
_FIRST_US = -62_135_596_800_000_000
_AFTER_LAST_US = 253_402_300_800_000_000


def _civil_text(
    local: Micros, whole_seconds: bool, suffixes: np.ndarray, which: np.ndarray
) -> npt.NDArray[np.uint8]:
    """Assemble every timestamp from tables of its date and its time of day.

    ``np.datetime_as_string`` costs about a microsecond per element; a year of points falls
    on a few hundred dates and at most 86,400 times of day, so those are written once each
    and gathered, as fixed-width strings, into the fields of one record per timestamp.
    """
    days, us_of_day = np.divmod(local, 86_400_000_000)
    first, last = int(days.min()), int(days.max())
    if last - first <= 4 * len(days) + 1000:
        dates = _ascii(np.datetime_as_string(np.arange(first, last + 1).astype("datetime64[D]")))
        fields = [dates[days - first]]
    else:
        fields = [_ascii(np.datetime_as_string(days.astype("datetime64[D]")))]
    seconds, fraction = np.divmod(us_of_day, 1_000_000)
    fields.append(_time_of_day()[seconds])
    if not whole_seconds:
        digits = np.empty((len(local), 7), dtype=np.uint8)
        digits[:, 0] = ord(".")
        for i in range(6, 0, -1):
            fraction, digit = np.divmod(fraction, 10)
            digits[:, i] = digit + ord("0")
        fields.append(digits.view("S7").ravel())
    fields.append(_ascii(suffixes)[which])
    records = np.empty(len(local), dtype=[(f"f{i}", f.dtype) for i, f in enumerate(fields)])
    for i, field in enumerate(fields):
        records[f"f{i}"] = field
    return records.view(np.uint8).reshape(len(local), records.dtype.itemsize)


def _codes(texts: np.ndarray) -> npt.NDArray[np.uint8]:
    """ASCII strings as a (rows, characters) array of bytes, NUL after the shorter ones."""
    ascii_text = _ascii(texts)
    return ascii_text.view(np.uint8).reshape(len(texts), ascii_text.dtype.itemsize)


def _ascii(texts: np.ndarray) -> npt.NDArray[np.bytes_]:
    """ASCII strings as bytes strings as wide as the longest."""
    return np.ascontiguousarray(texts.astype(f"S{int(np.char.str_len(texts).max())}"))


_TIMES: list[npt.NDArray[np.bytes_]] = []


def _time_of_day() -> npt.NDArray[np.bytes_]:
    """``THH:MM:SS`` of every second of a day (built once).

    From digits, in under 10 ms: through numpy's strings it took 115 ms, and the
    first answers after a start, in several threads at once, waited seconds for it.
    """
    if not _TIMES:
        seconds = np.arange(86_400)
        codes = np.full((86_400, 9), ord(":"), dtype=np.uint8)
        codes[:, 0] = ord("T")
        for at, field in ((1, seconds // 3600), (4, seconds // 60 % 60), (7, seconds % 60)):
            codes[:, at] = field // 10 + ord("0")
            codes[:, at + 1] = field % 10 + ord("0")
        _TIMES.append(codes.view("S9").ravel())
    return _TIMES[0]


def _suffix(offset_micros: int) -> str:
    sign = "-" if offset_micros < 0 else "+"
    minutes = abs(offset_micros) // 60_000_000
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_one(micros: int, tz: ZoneInfo) -> str:
    return format_many(np.array([micros], dtype=np.int64), tz)[0]
