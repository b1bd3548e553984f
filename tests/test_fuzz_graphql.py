"""GraphQL fuzzing: Schemathesis over the app's own schema, in process, every query and mutation.

For each root field and each of two callers (an admin and an employee, real tokens),
Schemathesis generates documents with arguments drawn from the SDL; no answer may be an HTTP
5xx, and no error may carry `extensions.code` INTERNAL_SERVER_ERROR (what the Schema in
service/api/graphql.py answers for an unexpected exception). Refusals (NOT_FOUND, FORBIDDEN,
BAD_USER_INPUT, ...) are expected answers.

PostgreSQL only, like tests/test_fuzz_contract.py: once per `make test`, bounded, derandomized.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.python import asgi as schemathesis_asgi

from service.main import create_app
from tests.fuzzing import BACKEND, Seeded, seed

MAX_EXAMPLES = int(os.environ.get("CUECARD_FUZZ_GRAPHQL_EXAMPLES", "15"))
INTERNAL = "INTERNAL_SERVER_ERROR"

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="GraphQL fuzzing runs once, in the PostgreSQL pass of `make test`"
)


def no_internal_error(ctx, response, case) -> None:
    """No 5xx, and no GraphQL error an unexpected one (masked as INTERNAL_SERVER_ERROR); refusals
    in `errors` are answers (Schemathesis's own server-error check counts any `errors` entry)."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError:
        return  # not_a_server_error and the status speak for non-JSON answers
    errors = body.get("errors") if isinstance(body, dict) else None
    internal = [e for e in errors or [] if (e.get("extensions") or {}).get("code") == INTERNAL]
    if internal:
        raise AssertionError(f"{INTERNAL} for {case.body!r}: {internal}")


@pytest.fixture(scope="module")
def graphql_schema(settings):
    """The schema as the app serves it (introspection at /graphql), on an app of its own:
    Schemathesis runs it on its own event loop (thread)."""
    schema = schemathesis.graphql.from_asgi("/graphql", create_app(settings))
    yield schema
    schemathesis_asgi.shutdown_lifespans()


@pytest.fixture
async def seeded(app) -> Seeded:
    return await seed(app)


@pytest.mark.parametrize("caller", ["admin", "employee"])
def test_no_graphql_field_fails_unexpectedly(graphql_schema, seeded: Seeded, caller: str):
    """Every query and mutation field, generated arguments, as this caller: no INTERNAL error."""
    failures: list[str] = []
    fields = 0
    started = time.perf_counter()
    for result in graphql_schema.get_all_operations():
        operation = result.ok()
        fields += 1
        try:
            _fuzz(operation, seeded.headers[caller])
        except (Exception, BaseExceptionGroup) as exc:  # Schemathesis reports a FailureGroup
            failures.append(f"{operation.label} as {caller}:\n{exc}")
    print(f"graphql fuzz as {caller}: {fields} fields in {time.perf_counter() - started:.1f}s")
    assert fields > 40
    assert not failures, f"{len(failures)} field(s) failed unexpectedly:\n\n" + "\n\n".join(failures)


def _fuzz(operation, headers: dict[str, str]) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        case.call_and_validate(headers=headers, checks=[no_internal_error])

    run()
