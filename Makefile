# The two commands of the README. Both create (or reuse) an isolated .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

# Set up and run the main job on the embedded defaults (simulated data, DuckDB, local MLflow store).
run: venv
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/churnseg run

# Set up and pass the tests (ruff + the whole pytest suite, slow tests included).
test: venv
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/ruff check churnseg pipelines tests benchmarks
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check churnseg pipelines tests benchmarks
	$(BIN)/ruff format --check churnseg pipelines tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
