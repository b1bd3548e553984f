"""Checked-in contracts and migrations match the code."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from service.cli import render_contracts
from service.search.models import is_engine_index

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_contracts_match_the_code(settings):
    rendered = render_contracts(settings)
    for name, path in {
        "openapi.json": "openapi/openapi.json",
        "schema.graphql": "schema/schema.graphql",
    }.items():
        checked_in = (ROOT / path).read_text(encoding="utf-8")
        assert checked_in == rendered[name], f"{path} drifted from the code: run `make contracts` and commit"


def test_contract_rendering_is_deterministic(settings):
    assert render_contracts(settings) == render_contracts(settings)


def test_operation_ids_are_clean_route_names(settings):
    spec = json.loads(render_contracts(settings)["openapi.json"])
    operation_ids = [op["operationId"] for methods in spec["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for operation_id in operation_ids:
        assert "api_v1" not in operation_id and not operation_id.endswith(("_get", "_post", "_patch")), (
            operation_id
        )
    assert {"list_people", "create_person", "get_me", "issue_token"} <= set(operation_ids)


async def test_migrations_build_exactly_the_models(app):
    """Autogenerate against the migrated test database finds nothing to add or drop."""

    def diff(connection):
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # SQLite's FTS5 tables (search) are the engine's index, not models.
                "include_name": lambda name, type_, _: not (type_ == "table" and is_engine_index(name)),
            },
        )
        return compare_metadata(context, SQLModel.metadata)

    async with app.state.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def test_every_operation_declares_each_problem_status_it_can_answer(settings):
    """No 4XX/5XX ranges: the statuses a client must handle are named, with the problem schema."""
    spec = json.loads(render_contracts(settings)["openapi.json"])
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert not {"4XX", "5XX"} & set(responses), (method, path)
            assert "500" in responses, (method, path)
            if operation.get("security") != []:
                assert {"401", "403", "503"} <= set(responses), (method, path)
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(responses), (method, path)
            if any(p["name"].lower() == "if-match" for p in operation.get("parameters", [])):
                assert {"412", "428"} <= set(responses), (method, path)
    token = spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"401", "429"} <= set(token)
    assert spec["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    # An acknowledgement given twice answers 200 with the first one.
    assert "200" in spec["paths"]["/api/v1/campaigns/{campaign_id}/acknowledgements"]["post"]["responses"]
    assert "422" in spec["paths"]["/api/v1/pitch/{product_key}"]["get"]["responses"]
    # Single resources honour If-None-Match: their GET declares the 304.
    for path in ("/api/v1/briefs/{brief_id}", "/api/v1/me", "/api/v1/checks/{check_id}"):
        assert "304" in spec["paths"][path]["get"]["responses"], path
