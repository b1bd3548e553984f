# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
DEMO_ADMIN ?= admin@hoshino.example
export CUECARD_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test lint format contracts install clean mutants lock

# Installs come from the hashed lock files in requirements/ (`make lock` refreshes them), with
# plain pip: the same versions on every machine and in the image. The project itself goes in
# last without dependencies, built with the locked setuptools (no unpinned build download).
PIP_LOCKED := $(BIN)/pip install --quiet --require-hashes -r
PIP_SELF   := $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml requirements/run.txt requirements/build.txt | $(BIN)/activate
	$(PIP_LOCKED) requirements/build.txt -r requirements/run.txt
	$(PIP_SELF)
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/test.txt requirements/build.txt | $(BIN)/activate
	$(PIP_LOCKED) requirements/build.txt -r requirements/test.txt
	$(PIP_SELF)
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-mutants: pyproject.toml requirements/mutants.txt $(VENV)/.installed-test
	$(PIP_LOCKED) requirements/build.txt -r requirements/mutants.txt
	$(PIP_SELF)
	touch $@

# Refresh the lock files from pyproject.toml (needs the package index; uv goes into .venv).
# Existing pins are kept unless LOCK_ARGS=--upgrade (or --upgrade-package NAME). The widest set
# is resolved first and constrains the narrower ones, so what `make run` installs is exactly
# what `make test` tested (a test tool's upper bound, e.g. openapi-python-client's typer<0.28,
# applies to both).
UV_VERSION ?= 0.13.9
LOCK_ARGS  ?=
UV_COMPILE  = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
              --custom-compile-command 'make lock' $(LOCK_ARGS)
lock: | $(BIN)/activate
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) requirements/build.in -o requirements/build.txt
	$(UV_COMPILE) pyproject.toml --extra test --extra mutants -o requirements/mutants.txt
	$(UV_COMPILE) pyproject.toml --extra test -c requirements/mutants.txt -o requirements/test.txt
	$(UV_COMPILE) pyproject.toml -c requirements/test.txt -o requirements/run.txt

install: $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@$(BIN)/cuecard serve --host $(HOST) --port $(PORT) --check-port
	$(BIN)/cuecard db upgrade
	$(BIN)/cuecard demo load --if-empty
	@token=$$($(BIN)/cuecard token --email $(DEMO_ADMIN) --role admin) && \
	  printf '\nCueCard is starting on http://%s:%s\n  REST docs : http://%s:%s/docs\n  GraphQL   : http://%s:%s/graphql\n  Demo admin token (1 h):\n%s\n\n' \
	  $(HOST) $(PORT) $(HOST) $(PORT) $(HOST) $(PORT) "$$token"
	exec $(BIN)/cuecard serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check service tests migrations bench
	$(BIN)/ruff format --check service tests migrations bench
	$(BIN)/mypy service
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix service tests migrations bench
	$(BIN)/ruff format service tests migrations bench

# The whole suite on SQLite, then again on PostgreSQL when one answers (required when
# CUECARD_REQUIRE_POSTGRES=1, as in CI). Each run creates and drops a database of its own.
# The PostgreSQL pass runs with the machine's clock 14 hours east of UTC: the service counts
# days in UTC, and a test or a rule that takes "today" from the local clock (`date.today()`)
# then disagrees with it from 10:00 UTC on (in Japan only until 09:00 local, which CI
# seldom sees). A POSIX TZ string, so it holds without tzdata installed.
EAST_OF_UTC := <+14>-14
test: lint
	CUECARD_TEST_BACKEND=sqlite $(BIN)/pytest
	@if $(BIN)/python tests/postgres_available.py; then \
	  echo "== PostgreSQL run ($$CUECARD_TEST_POSTGRES_URL), TZ=$(EAST_OF_UTC)"; \
	  TZ='$(EAST_OF_UTC)' CUECARD_TEST_BACKEND=postgres $(BIN)/pytest; \
	elif [ "$${CUECARD_REQUIRE_POSTGRES:-0}" = "1" ]; then \
	  echo "PostgreSQL is required (CUECARD_REQUIRE_POSTGRES=1) but $$CUECARD_TEST_POSTGRES_URL does not answer"; exit 1; \
	else \
	  echo "PostgreSQL not reachable at $$CUECARD_TEST_POSTGRES_URL: its run was skipped"; \
	fi

# Mutation testing of the policies, the If-Match rule and the workflow transitions (not in CI:
# it takes long). Configured in pyproject.toml [tool.mutmut]; SQLite. Narrow it with
# MUTANTS='service.campaigns.policies*'. Survivors: `$(BIN)/mutmut results`, `mutmut show NAME`.
MUTANTS ?=
mutants: $(VENV)/.installed-mutants
	rm -rf mutants
	CUECARD_TEST_BACKEND=sqlite $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

contracts: $(VENV)/.installed-run
	$(BIN)/cuecard contracts export

clean:
	rm -rf $(VENV) var build *.egg-info mutants

# Load without loss (not in CI): 2 workers on a throwaway PostgreSQL database, a mixed load for
# a few minutes, then a count of every write (bench/README.md). BENCH_ARGS="--duration 60" etc.
.PHONY: bench
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.load.run $(BENCH_ARGS)
