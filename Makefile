# Everything a fresh clone needs is installed into .venv by these targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck pytest fuzz crash clean bench bench-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/wattbase serve --demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# The benchmark against InfluxDB and VictoriaMetrics (installs them with apt-get when missing).
bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

# A longer schemathesis run than the one in `make test`; prints the cases run per face.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	WATTBASE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -s -p no:cacheprovider

# The SIGKILL crash test with more kills than the 20 of `make test`.
CRASH_KILLS ?= 200
crash: $(STAMP)
	WATTBASE_CRASH_KILLS=$(CRASH_KILLS) $(BIN)/pytest tests/test_crash_safety.py -s -p no:cacheprovider

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
