# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
DEMO_ADMIN ?= admin@hoshino.example
export CUECARD_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test lint format contracts install clean mutants

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-mutants: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,mutants]'
	touch $@

install: $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/cuecard db upgrade
	$(BIN)/cuecard demo load --if-empty
	@token=$$($(BIN)/cuecard token --email $(DEMO_ADMIN) --role admin) && \
	  printf '\nCueCard is starting on http://%s:%s\n  REST docs : http://%s:%s/docs\n  GraphQL   : http://%s:%s/graphql\n  Demo admin token (1 h):\n%s\n\n' \
	  $(HOST) $(PORT) $(HOST) $(PORT) $(HOST) $(PORT) "$$token"
	exec $(BIN)/cuecard serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check service tests migrations bench
	$(BIN)/ruff format --check service tests migrations bench
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
