# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
DEMO_ADMIN ?= admin@hoshino.example
export CUECARD_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test lint format contracts install clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

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
test: lint
	CUECARD_TEST_BACKEND=sqlite $(BIN)/pytest
	@if $(BIN)/python tests/postgres_available.py; then \
	  echo "== PostgreSQL run ($$CUECARD_TEST_POSTGRES_URL)"; \
	  CUECARD_TEST_BACKEND=postgres $(BIN)/pytest; \
	elif [ "$${CUECARD_REQUIRE_POSTGRES:-0}" = "1" ]; then \
	  echo "PostgreSQL is required (CUECARD_REQUIRE_POSTGRES=1) but $$CUECARD_TEST_POSTGRES_URL does not answer"; exit 1; \
	else \
	  echo "PostgreSQL not reachable at $$CUECARD_TEST_POSTGRES_URL: its run was skipped"; \
	fi

contracts: $(VENV)/.installed-run
	$(BIN)/cuecard contracts export

clean:
	rm -rf $(VENV) var build *.egg-info

# Load without loss (not in CI): 2 workers on a throwaway PostgreSQL database, a mixed load for
# a few minutes, then a count of every write (bench/README.md). BENCH_ARGS="--duration 60" etc.
.PHONY: bench
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.load.run $(BENCH_ARGS)
