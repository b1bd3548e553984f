"""The `cuecard` command misused, as operators misuse it: one clear line on stderr and a
non-zero exit, never a traceback; and the small things it now tells (version, scopes, what
`token` changed, a busy port, `demo load --reset`)."""

from __future__ import annotations

import asyncio
import socket
import tomllib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from service.auth.principal import SCOPE_DESCRIPTIONS, SCOPES
from tests.conftest import BACKEND, POSTGRES_URL
from tests.factories import bearer, make_department
from tests.test_cli import _poll_status, run

ROOT = Path(__file__).resolve().parent.parent


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


async def test_version_prints_the_package_version(cli_env):
    code, out, err = await run(cli_env, "--version")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert (code, out.strip(), err) == (0, f"cuecard {version}", "")


async def test_version_works_even_on_a_bad_configuration(cli_env):
    code, out, _ = await run(cli_env | {"CUECARD_JWT_SECRET": "too-short"}, "--version")
    assert code == 0 and out.startswith("cuecard ")


async def test_clients_create_help_lists_every_scope_with_what_it_allows(cli_env):
    assert set(SCOPE_DESCRIPTIONS) == set(SCOPES), "describe every scope in SCOPE_DESCRIPTIONS"
    code, out, _ = await run(cli_env, "clients", "create", "--help")
    assert code == 0
    for scope in SCOPES:
        line = next(line for line in out.splitlines() if line.strip().startswith(scope + " "))
        assert SCOPE_DESCRIPTIONS[scope] in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("token", "--email", "not-an-email", "--role", "admin"), "not a valid email"),
        (("token", "--email", "ok@example.com", "--role", "superuser"), "--role must be one of"),
        (("token", "--email", "ok@example.com", "--role", "admin", "--department", "nowhere"), "nowhere"),
        (("clients", "create", "--name", "x", "--scope", "pitch:read,everything"), "everything"),
    ],
    ids=["bad e-mail", "bad role", "unknown department", "bad scope"],
)
async def test_misuse_is_one_clear_line(cli_env, args, says):
    code, out, err = await run(cli_env, *args)
    assert code != 0
    assert out == ""
    assert says in one_error_line(err)


async def test_an_unreachable_database_is_one_clear_line(cli_env):
    with socket.socket() as closed:  # a port nobody listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        env = cli_env | {"CUECARD_DATABASE_URL": f"postgresql://cuecard:s3cret@127.0.0.1:{port}/nothing"}
        for args in (("token", "--email", "a@example.com", "--role", "admin"), ("db", "upgrade")):
            code, out, err = await run(env, *args)
            assert code != 0 and out == ""
            line = one_error_line(err)
            assert f"127.0.0.1:{port}" in line
            assert "s3cret" not in line  # the password is never printed


@asynccontextmanager
async def empty_database(tmp_path: Path) -> AsyncIterator[str]:
    """A database without any schema, on this run's backend."""
    if BACKEND != "postgres":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"cuecard_cli_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_an_unmigrated_database_says_to_migrate(cli_env, tmp_path):
    async with empty_database(tmp_path) as url:
        env = cli_env | {"CUECARD_DATABASE_URL": url}
        for args in (("token", "--email", "a@example.com", "--role", "admin"), ("demo", "load")):
            code, out, err = await run(env, *args)
            assert code != 0 and out == ""
            assert "cuecard db upgrade" in one_error_line(err)


async def test_a_database_behind_this_release_says_to_migrate(cli_env, tmp_path):
    from service.migrate import known_revisions, upgrade

    first = sorted(known_revisions())[0]
    async with empty_database(tmp_path) as url:
        await asyncio.to_thread(upgrade, url, first)
        code, _, err = await run(cli_env | {"CUECARD_DATABASE_URL": url}, "demo", "load")
        assert code != 0
        assert "older than this release" in one_error_line(err)


async def test_token_says_when_it_changed_someones_role_or_department(app, client, cli_env):
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="サポート部")
    code, _, err = await run(cli_env, "token", "--email", "aoi@example.com", "--role", "employee")
    assert code == 0 and "created" in err and "CHANGED" not in err

    code, _, err = await run(cli_env, "token", "--email", "aoi@example.com", "--role", "employee")
    assert code == 0 and "unchanged" in err and "CHANGED" not in err

    code, _, err = await run(
        cli_env, "token", "--email", "Aoi@example.com", "--role", "editor", "--department", "sales"
    )
    assert code == 0
    assert "CHANGED role employee -> editor, department none -> sales" in err
    assert "earlier tokens too" in err

    code, out, err = await run(
        cli_env, "token", "--email", "aoi@example.com", "--role", "editor", "--department", "support"
    )
    assert "CHANGED department sales -> support" in err and "role employee" not in err
    me = (await client.get("/api/v1/me", headers=bearer(out.strip()))).json()
    assert (me["role"], me["department_key"]) == ("editor", "support")


async def test_serve_on_a_busy_port_says_so_before_anything_else(cli_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await run(cli_env, "serve", "--port", str(port), "--check-port")
        assert code == 2 and out == ""
        assert f"port {port} on 127.0.0.1 is in use" in one_error_line(err)
    code, _, err = await run(cli_env, "serve", "--port", str(port), "--check-port")
    assert (code, err) == (0, "")


async def test_the_port_can_come_from_the_environment(cli_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = await run(cli_env | {"CUECARD_PORT": str(port)}, "serve", "--check-port")
    assert code == 2 and f"port {port}" in err


async def test_make_run_checks_the_port_before_printing_a_token():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\nrun:") :].split("\n\n")[0]
    assert recipe.index("--check-port") < recipe.index("cuecard token")


async def test_demo_load_reset_wipes_everything_and_reloads(app, client, cli_env, callers):
    # `callers` put people, clients and tokens in the database that the demo does not have.
    admin = callers.headers("admin")
    pitch_client = callers.headers("svc_pitch")
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 200
    code, _, err = await run(cli_env, "demo", "load", "--reset")
    assert code == 0, err
    assert "all data deleted, demo data loaded" in err
    # The wiped admin's token stops working in the running app (NOTIFY or the SQLite signal
    # file, as for any change the CLI makes); the demo is there, exactly once.
    assert await _poll_status(client, "get", "/api/v1/me", admin, until=401) == 401
    assert await _poll_status(client, "get", "/api/v1/products", pitch_client, until=401) == 401
    code, out, _ = await run(cli_env, "token", "--email", "admin@hoshino.example", "--role", "admin")
    people = (await client.get("/api/v1/people?limit=200", headers=bearer(out.strip()))).json()["items"]
    emails = [p["email"] for p in people]
    assert "admin@hoshino.example" in emails and len(emails) == len(set(emails))
    # Again: the same demo, not twice the demo.
    code, _, _ = await run(cli_env, "demo", "load", "--reset")
    assert code == 0
    code, out, _ = await run(cli_env, "token", "--email", "admin@hoshino.example", "--role", "admin")
    again = (await client.get("/api/v1/people?limit=200", headers=bearer(out.strip()))).json()["items"]
    assert sorted(p["email"] for p in again) == sorted(emails)


async def test_demo_load_reset_is_refused_in_production(client, cli_env, callers):
    code, _, err = await run(cli_env | {"CUECARD_ENV": "production"}, "demo", "load", "--reset")
    assert code == 2
    assert "refused when CUECARD_ENV=production" in one_error_line(err)
    assert (
        await client.get("/api/v1/me", headers=callers.headers("admin"))
    ).status_code == 200  # nothing deleted
