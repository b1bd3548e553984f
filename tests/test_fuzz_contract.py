"""Contract fuzzing: Schemathesis against the app's own OpenAPI, in process, every operation.

For each operation and each of two callers (an admin and an employee, real tokens), Hypothesis
generates valid and invalid requests from the published schema and every response must be:
no server error, a declared status, the declared media type, a body matching the declared
schema (and the declared headers), and a 4xx for data the schema forbids. Some rows are
seeded first (tests/fuzzing.py: a product, a published and a draft brief, a campaign,
evidence) and about half the valid requests aim at them, so they reach existing resources.

Exclusions while other branches land (remove them after merging; see the TODOs):
- NUL bytes in generated strings (helper "inputs", finding 7).

PostgreSQL only (it runs once in `make test`, in the PostgreSQL pass), bounded and
derandomized so CI is reproducible and fast.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app
from tests.fuzzing import BACKEND, Seeded, seed

# Examples per operation and caller, about half valid and half invalid data (fewer when an
# operation has fewer distinct requests, e.g. none for GET /healthz).
MAX_EXAMPLES = int(os.environ.get("CUECARD_FUZZ_EXAMPLES", "24"))

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="contract fuzzing runs once, in the PostgreSQL pass of `make test`"
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzz_schema(settings):
    """The schema as the app serves it, bound to an app instance of its own: Schemathesis runs
    it on its own event loop (thread), so it cannot share the suite's engine and loop."""
    application = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", application)
    # The caller's real token is sent with every request; generated Authorization values
    # would only replace it.
    schema.config.generation.update(with_security_parameters=False)
    yield schema
    schemathesis_asgi.shutdown_lifespans()


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Generated webhook URLs name random hosts: the SSRF guard would ask the resolver about
    each. Here it resolves address literals only and refuses names, so fuzzing stays offline."""
    from service.webhooks import ssrf

    async def literal_only(host: str, port: int) -> list[ssrf.IPAddress]:
        literal = ssrf._literal_address(host)
        if literal is None:
            raise ssrf.UnsafeWebhookURL(f"{host} is not resolved while fuzzing")
        return [literal]

    monkeypatch.setattr(ssrf, "resolve", literal_only)


@pytest.fixture
async def seeded(app) -> Seeded:
    return await seed(app)


@pytest.mark.parametrize("caller", ["admin", "employee"])
def test_every_operation_keeps_its_contract(fuzz_schema, seeded: Seeded, caller: str):
    """Every operation, valid and invalid data, as this caller: zero contract failures."""
    only = os.environ.get("CUECARD_FUZZ_ONLY")  # e.g. "/briefs": a narrower run while debugging
    failures: list[str] = []
    sent: dict[str, int] = {}
    started = time.perf_counter()
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        if (only and only not in operation.path) or _streams(operation):
            continue
        try:
            _fuzz(operation, seeded, seeded.headers[caller], sent)
        except (Exception, BaseExceptionGroup) as exc:  # Schemathesis reports a FailureGroup
            failures.append(f"{operation.label} as {caller}:\n{exc}")
    print(
        f"\ncontract fuzz as {caller}: {len(sent)} operations, {sum(sent.values())} requests "
        f"in {time.perf_counter() - started:.0f}s"
    )
    assert only or len(sent) >= 68, sorted(sent)
    assert not failures, f"{len(failures)} operation(s) broke the contract:\n\n" + "\n\n".join(failures)


def _streams(operation) -> bool:
    """A live stream (SSE) never ends, and the in-process client waits for a whole response:
    its 200 would hang the run. tests/test_streams.py and the authorization matrix cover them."""
    content = operation.definition.raw.get("responses", {}).get("200", {}).get("content", {})
    return "text/event-stream" in content


def _fuzz(operation, seeded: Seeded, headers: dict[str, str], sent: dict[str, int]) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def run(case, data):
        # Aim part of the valid requests at rows that exist, not only at random ids.
        if case.path_parameters and case.meta and case.meta.generation.mode == GenerationMode.POSITIVE:
            for name in list(case.path_parameters):
                if name in seeded.path_values and data.draw(st.booleans(), label=f"existing {name}"):
                    case.path_parameters[name] = data.draw(st.sampled_from(seeded.path_values[name]))
        sent[operation.label] = sent.get(operation.label, 0) + 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
