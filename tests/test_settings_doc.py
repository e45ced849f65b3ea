"""The README's settings table is the one the code prints, so no setting goes undocumented."""

from __future__ import annotations

from pathlib import Path

from wattbase.config import Settings, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    table = settings_table()
    assert len(table.splitlines()) == len(Settings.model_fields) + 2
    assert table in README.read_text(), "run `wattbase settings` and paste it into README.md"
