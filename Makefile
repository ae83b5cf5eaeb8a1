# cyberbudget — two commands do all the set-up: `make report` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed
# Test processes (pytest-xdist; each test file runs whole in one of them, so a file's module fixtures are built
# once). Most slow tests wait on kernels, browsers and subprocesses: three workers keep two cores busy.
TEST_WORKERS ?= 3

.PHONY: report test test-fast lint lock bench clean install

install: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python $(LOCK)
	$(BIN)/uv pip install --quiet --compile-bytecode --no-deps --python $(BIN)/python -e .
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/cyberbudget run scenarios/baseline.yaml --out reports

test: $(STAMP)
	$(BIN)/ruff check cyberbudget tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=10

# The quick loop while iterating: everything but the tests marked `slow` (end-to-end runs in fresh kernels,
# clusters, batches of processes). `make test` (and .ci/run) still runs them all.
test-fast: $(STAMP)
	$(BIN)/ruff check cyberbudget tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check cyberbudget tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Regenerate the lock file from pyproject.toml (needs the registry).
lock:
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==0.13.8")
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra duckdb --python-version 3.11 --quiet -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
