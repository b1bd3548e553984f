"""The `cuecard` command, run as operators run it: a subprocess reading CUECARD_ settings."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from service.cli import render_contracts
from tests.factories import bearer, make_department

CUECARD = str(Path(sys.executable).parent / "cuecard")


async def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CUECARD, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def test_token_creates_the_person_and_prints_only_the_token(app, client, cli_env):
    await make_department(app, key="sales", name="営業部")
    code, out, _ = await run(
        cli_env, "token", "--email", "Ops.User@example.com", "--role", "editor", "--department", "sales"
    )
    assert code == 0
    token = out.strip()
    assert token.count(".") == 2 and "\n" not in token
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["email"] == "ops.user@example.com"
    assert me.json()["role"] == "editor"
    assert me.json()["department_key"] == "sales"

    # Again for the same person: role changes, department and name are kept.
    code, out, err = await run(cli_env, "token", "--email", "ops.user@example.com", "--role", "manager")
    assert code == 0
    assert "stored role manager" in err and "tokens act with the stored role" in err
    again = (await client.get("/api/v1/me", headers=bearer(out.strip()))).json()
    assert again["role"] == "manager"
    assert again["department_key"] == "sales"
    assert again["id"] == me.json()["id"]


async def test_token_refuses_an_unknown_role(cli_env):
    code, out, err = await run(cli_env, "token", "--email", "x@example.com", "--role", "superuser")
    assert code != 0
    assert out == ""
    assert "role" in err


async def test_clients_create_prints_credentials_once_that_work(client, cli_env):
    code, out, _ = await run(
        cli_env,
        "clients",
        "create",
        "--name",
        "CRM plugin",
        "--scope",
        "pitch:read",
        "--scope",
        "briefs:read",
    )
    assert code == 0
    created = json.loads(out)
    assert set(created) >= {"client_id", "client_secret"}
    assert created["scopes"] == ["briefs:read", "pitch:read"]
    response = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "briefs:read pitch:read"


async def test_a_role_set_by_the_cli_applies_to_tokens_already_issued(app, client, cli_env):
    """The CLI is another process: on SQLite too, the running server sees the change within a second."""
    code, out, _ = await run(cli_env, "token", "--email", "cli.editor@example.com", "--role", "admin")
    assert code == 0
    earlier = bearer(out.strip())
    assert (
        await client.post("/api/v1/products", json={"key": "cli-a", "name": "A"}, headers=earlier)
    ).status_code == 201
    code, _, _ = await run(cli_env, "token", "--email", "cli.editor@example.com", "--role", "employee")
    assert code == 0
    status = await _poll_status(
        client, "post", "/api/v1/products", earlier, until=403, json={"key": "cli-b", "name": "B"}
    )
    assert status == 403


async def test_clients_create_with_api_token_prints_one_that_works(client, cli_env):
    code, out, err = await run(
        cli_env, "clients", "create", "--name", "Okta", "--scope", "people:write", "--api-token"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["api_token"].startswith("cca_") and created["api_token_id"]
    response = await client.get("/scim/v2/Users", headers=bearer(created["api_token"]))
    assert response.status_code == 200, response.text
    code, out, _ = await run(cli_env, "clients", "create", "--name", "CRM", "--scope", "pitch:read")
    assert "api_token" not in json.loads(out)  # only when asked for


async def test_clients_deactivate_and_delete_stop_issued_tokens(app, client, cli_env):
    tokens = []
    for _ in range(2):
        code, out, _ = await run(cli_env, "clients", "create", "--name", "CRM", "--scope", "pitch:read")
        created = json.loads(out)
        issued = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        tokens.append((created["client_id"], bearer(issued.json()["access_token"])))
        assert (await client.get("/api/v1/products", headers=tokens[-1][1])).status_code == 200  # cached
    for command, (client_id, headers) in zip(("deactivate", "delete"), tokens, strict=True):
        code, _, err = await run(cli_env, "clients", command, client_id)
        assert code == 0, err
        assert await _poll_status(client, "get", "/api/v1/products", headers, until=401) == 401
    code, _, err = await run(cli_env, "clients", "delete", "cc_no_such_client")
    assert code == 1 and "No such service account" in err


async def _poll_status(client, method: str, url: str, headers: dict, *, until: int, **kwargs) -> int:
    started = time.monotonic()
    while True:
        status = (await client.request(method.upper(), url, headers=headers, **kwargs)).status_code
        if status == until or time.monotonic() - started > 1.0:
            return status
        await asyncio.sleep(0.05)


async def test_clients_create_refuses_unknown_scopes(cli_env):
    code, _, err = await run(cli_env, "clients", "create", "--name", "x", "--scope", "everything")
    assert code != 0
    assert "Unknown scopes" in err


async def test_contracts_export_writes_what_the_drift_test_compares(settings, cli_env, tmp_path):
    code, _, _ = await run(cli_env, "contracts", "export", "--out", str(tmp_path / "out"))
    assert code == 0
    rendered = render_contracts(settings)
    for name, text in rendered.items():
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == text


async def test_demo_load_once_in_japanese_and_english(client, cli_env, callers):
    # `callers` put people in the database: --if-empty must then leave it alone.
    code, _, err = await run(cli_env, "demo", "load", "--if-empty")
    assert code == 0
    assert "already present" in err


async def test_demo_load_into_an_empty_database(client, cli_env):
    code, _, _ = await run(cli_env, "demo", "load", "--if-empty")
    assert code == 0
    code, out, _ = await run(cli_env, "token", "--email", "admin@hoshino.example", "--role", "admin")
    people = (await client.get("/api/v1/people?limit=200", headers=bearer(out.strip()))).json()["items"]
    names = {p["display_name"] for p in people}
    assert "佐藤 美咲" in names and "Emma Wilson" in names
    admin = bearer(out.strip())
    products = (await client.get("/api/v1/products", headers=admin)).json()["items"]
    assert any(p["is_company"] for p in products)
    # Scene one: the Japanese baton is published with value translations; one claim is stale;
    # the company's own story waits in review.
    pitch = (await client.get("/api/v1/pitch/kuradesk?locale=ja", headers=admin)).json()
    assert pitch["version"] == 1
    assert [m["feature_term"] for m in pitch["value_translations"]] == ["高速OCR", "自動仕訳"]
    assert pitch["freshness"]["status"] == "stale"
    assert len(pitch["freshness"]["expired"]) == 1
    sales = (await client.get("/api/v1/pitch/kuradesk?locale=ja&audience=sales", headers=admin)).json()
    assert [m["title"] for m in sales["key_messages"]] == ["価格ではなく、取り戻せる時間で語る"]
    in_review = (await client.get("/api/v1/briefs?status=in_review", headers=admin)).json()["items"]
    assert [b["product_key"] for b in in_review] == ["hoshino"]
    # Scene two: a week of feedback, with a loop gap, an overdue item and every NPS band.
    digest = (await client.get("/api/v1/feedback/digest", headers=admin)).json()
    assert digest["total"] > 20
    assert digest["loop_gaps"] and digest["overdue"]
    nps = digest["nps"]
    assert nps["promoters"] and nps["passives"] and nps["detractors"]


async def test_production_refuses_to_start_without_a_key(cli_env):
    env = {k: v for k, v in cli_env.items() if k != "CUECARD_JWT_SECRET"} | {"CUECARD_ENV": "production"}
    code, _, err = await run(env, "serve", "--port", "1")
    assert code == 2
    assert "CUECARD_JWT_SECRET" in err
    assert "Traceback" not in err


async def test_a_short_secret_is_refused(cli_env, tmp_path):
    env = cli_env | {"CUECARD_JWT_SECRET": "too-short"}
    code, _, err = await run(env, "contracts", "export", "--out", str(tmp_path))
    assert code == 2
    assert "32 bytes" in err


async def test_several_workers_on_sqlite_are_refused(cli_env):
    if not cli_env["CUECARD_DATABASE_URL"].startswith("sqlite"):
        cli_env = cli_env | {"CUECARD_DATABASE_URL": "sqlite+aiosqlite:///./var/x.db"}
    code, _, err = await run(cli_env, "serve", "--workers", "2", "--port", "1")
    assert code == 2
    assert "PostgreSQL" in err
