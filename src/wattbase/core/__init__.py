"""The rules: access, the one write engine, the one query engine, units and time."""
