# The two commands of the README. Both create (or reuse) an isolated .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

# Set up and run the main job on the embedded defaults (simulated data, DuckDB, local MLflow store).
run: venv
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/churnseg run

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Set up and pass the tests (ruff + the whole pytest suite, slow tests included).
test: venv browser
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/ruff check churnseg pipelines tests benchmarks notebooks
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check churnseg pipelines tests benchmarks notebooks
	$(BIN)/ruff format --check churnseg pipelines tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
