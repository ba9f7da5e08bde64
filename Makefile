# Two commands do all the set-up on a fresh machine:
#   make run   - Lockstep on SQLite with m365sim's demo tenant
#   make test  - every test, on SQLite and (when reachable) PostgreSQL
# Both create .venv from requirements.lock when it is missing or stale.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCKSTEP_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export LOCKSTEP_TEST_POSTGRES_URL

.PHONY: run test test-sqlite test-postgres lint lock venv bench clean

$(STAMP): requirements.lock pyproject.toml m365sim/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/lockstep demo

test: $(STAMP)
	$(BIN)/python tools/run_suite.py

lint: $(STAMP)
	$(BIN)/ruff check src m365sim/src tests m365sim/tests bench
	$(BIN)/ruff format --check src m365sim/src tests m365sim/tests bench
	$(BIN)/mypy src/lockstep m365sim/src/m365sim

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# Recompile the lock file after changing dependencies in pyproject.toml.
lock:
	@test -x $(BIN)/pip-compile || $(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --no-strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock requirements.in

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
