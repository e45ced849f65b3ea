"""Unit conversion through pint: one lazily built registry, one cached affine map per pair.

Every unit wattbase meets converts as ``target = source * scale + offset`` (offset is
non-zero only between offset scales such as °C, K and °F), so pint is asked once per pair
and whole numpy columns are then converted in one vectorised step.

Spellings are pint's (``kWh``, ``m³/h`` or ``m^3/h``, ``l/s``, ``degC`` or ``°C``), plus
``C`` and ``F`` for degrees Celsius and Fahrenheit: energy data never means coulomb or farad.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from wattbase.core.reads import ReadSpec, read_series
from wattbase.errors import UnitMismatch
from wattbase.model.points import PointsPage, Values
from wattbase.model.query import Aggregate, ValueFilter
from wattbase.model.things import Series
from wattbase.storage.base import Session

ALIASES = {"C": "degC", "F": "degF"}
# The scale is measured over a wide span so that an offset (459.67 for °F) cancels cleanly.
SPAN = 1e6
_lock = threading.Lock()
_registry: Any = None


def registry() -> Any:
    """pint's registry, built on first use (it takes a few hundred milliseconds)."""
    global _registry
    with _lock:
        if _registry is None:
            import pint

            _registry = pint.UnitRegistry()
        return _registry


@dataclass(frozen=True, slots=True)
class Conversion:
    """``target = source * scale + offset``."""

    source: str
    target: str
    scale: float
    offset: float

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0

    def apply(self, values: Values) -> Values:
        if self.identity:
            return values
        return values * self.scale + self.offset

    def back(self, value: float) -> float:
        """A target value in the source unit."""
        return (value - self.offset) / self.scale

    def filter_back(self, values: ValueFilter) -> ValueFilter:
        """``ge``/``le`` given in the target unit, moved to the source unit."""
        ge = None if values.ge is None else self.back(values.ge)
        le = None if values.le is None else self.back(values.le)
        return ValueFilter(ge=ge, le=le)


def _spelled(unit: str) -> str:
    unit = unit.strip()
    return ALIASES.get(unit, unit)


@lru_cache(maxsize=1024)
def conversion(source: str | None, target: str) -> Conversion:
    """How to turn values in ``source`` into ``target``; 400 naming both when impossible."""
    if not source:
        raise UnitMismatch(
            f"the time series has no si_unit, so values cannot be converted to '{target}'",
            param="unit",
        )
    ureg = registry()
    try:
        ends = ureg.Quantity(np.array([0.0, SPAN]), _spelled(source)).to(_spelled(target))
    # pint's parser fails in many ways (undefined names, bad syntax, other dimensions); for
    # a client's unit string every one of them means the same: not convertible.
    except Exception as exc:
        raise UnitMismatch(
            f"cannot convert '{source}' to '{target}': {exc}", param="unit"
        ) from None
    zero, far = (float(x) for x in ends.magnitude)
    # Offset scales go through kelvin, which leaves float noise (°C to °F: 1.7999999999999972);
    # a value within a few ulps of a short decimal is snapped to it, anything else is kept.
    return Conversion(
        source=source, target=target, scale=_tidy((far - zero) / SPAN), offset=_tidy(zero)
    )


def _tidy(x: float) -> float:
    short = float(f"{x:.12g}")
    return short if abs(short - x) <= 1e-14 * abs(x) else x


def into_series_unit(values: Values, unit: str, si_unit: str | None) -> Values:
    """Values sent in ``unit``, in the series' own unit."""
    if not si_unit:
        raise UnitMismatch(
            f"the time series has no si_unit, so values in '{unit}' cannot be converted",
            param="unit",
        )
    return conversion(unit, si_unit).apply(values)


def for_read(
    si_unit: str | None, unit: str | None, aggregate: Aggregate | None
) -> Conversion | None:
    """The conversion a read applies to what the store answers, or None.

    Counts have no unit. A sum of values on an offset scale (°C to °F) is not the sum of the
    converted values, so that one is refused rather than answered wrongly.
    """
    if unit is None or aggregate is Aggregate.COUNT:
        return None
    found = conversion(si_unit, unit)
    if found.offset != 0.0 and aggregate is Aggregate.SUM:
        raise UnitMismatch(
            f"a sum in '{si_unit}' cannot be converted to '{unit}' (offset scales); "
            "ask for avg, min or max, or read the sum unconverted",
            param="unit",
        )
    return None if found.identity else found


def read_in_unit(session: Session, series: Series, spec: ReadSpec, unit: str | None) -> PointsPage:
    """``read_series``, with values (and the ``ge``/``le`` given in ``unit``) converted."""
    convert = for_read(series.si_unit, unit, spec.aggregate if spec.precision else None)
    if convert is None:
        return read_series(session, series, spec)
    page = read_series(session, series, replace(spec, values=convert.filter_back(spec.values)))
    return replace(page, v=convert.apply(page.v))
