"""wattbase: self-hosted energy time-series data behind the EnergyView and apollo APIs."""

from __future__ import annotations

__version__ = "0.1.0"
