"""``python -m wattbase`` is the ``wattbase`` command."""

from __future__ import annotations

from wattbase.cli import main

main()
