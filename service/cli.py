"""The `cuecard` command for operators: serve, migrate, demo data, tokens, clients, contracts."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.config import Settings, get_settings

app = typer.Typer(
    help="CueCard: API-first internal marketing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
clients_app = typer.Typer(help="Service accounts for integrations.", no_args_is_help=True)
contracts_app = typer.Typer(help="OpenAPI and GraphQL contracts.", no_args_is_help=True)


@app.callback()
def _check_configuration() -> None:
    """Refuse to run on a bad configuration with a readable message, not a traceback."""
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"configuration error: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(clients_app, name="clients")
app.add_typer(contracts_app, name="contracts")


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.", envvar="CUECARD_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="CUECARD_PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the API server (uvicorn) with a bounded graceful shutdown."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        # Caches are per process and only PostgreSQL tells the others (LISTEN/NOTIFY).
        typer.echo("configuration error: several workers need PostgreSQL (CUECARD_DATABASE_URL)", err=True)
        raise typer.Exit(2)
    # uvicorn drains on SIGTERM and then re-raises it, so a clean drain would end "killed by
    # SIGTERM" (143), which supervisors report as a failure: end with status 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        log_config=None,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (safe to run from several replicas at once on PostgreSQL)."""
    from service.migrate import upgrade

    upgrade(get_settings().resolved_database_url, revision)
    typer.echo(f"database at {revision}", err=True)


async def _run_with_session(work):  # type: ignore[no-untyped-def]
    from service.db import create_engine, create_sessionmaker

    settings = get_settings()
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine, info={"settings": settings})() as session:
            return await work(session, settings)
    finally:
        await engine.dispose()


def _with_session(work):  # type: ignore[no-untyped-def]
    """Run `work(session, settings)`; a refused operation prints its reason, not a traceback."""
    from service.errors import CueCardError

    try:
        return asyncio.run(_run_with_session(work))
    except CueCardError as exc:
        extra = "".join(f"\n  {e.get('field')}: {e.get('detail')}" for e in exc.extras.get("errors", []))
        typer.echo(f"error: {exc.detail or exc.title}{extra}", err=True)
        raise typer.Exit(1) from None


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when no people exist yet.")] = False,
) -> None:
    """Load the demo company (Japanese and English)."""
    from service.auth.principal import Principal
    from service.demo import loader

    loaded = _with_session(
        lambda session, _s: loader.load(session, Principal.operator("demo"), if_empty=if_empty)
    )
    typer.echo("demo data loaded" if loaded else "demo data already present", err=True)


@app.command()
def token(
    email: Annotated[str, typer.Option(help="The person's e-mail.")],
    role: Annotated[str, typer.Option(help="admin, editor, manager or employee.")],
    department: Annotated[str | None, typer.Option(help="Department key.")] = None,
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds.")] = None,
) -> None:
    """Mint a token from the service's own key (creates the person if missing, else sets their
    role). Tokens act with the stored role: changing it later changes what this token may do."""
    from service.auth.principal import HUMAN_ROLES, Principal
    from service.auth.tokens import TokenService
    from service.people import service as people_service

    if role not in HUMAN_ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(HUMAN_ROLES)}")

    async def work(session, settings):  # type: ignore[no-untyped-def]
        person = await people_service.ensure_person(
            session, Principal.operator(), email=email, role=role, department_key=department
        )
        typer.echo(
            f"{person.email}: stored role {person.role}"
            + (f", department {person.department_key}" if person.department_key else "")
            + " (tokens act with the stored role)",
            err=True,
        )
        claims = {"sub": str(person.id), "email": person.email, "role": person.role}
        return TokenService(settings).mint(claims, ttl)[0]

    typer.echo(_with_session(work))


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="What the integration is.")],
    scope: Annotated[list[str], typer.Option(help="A scope; repeat for several.")],
) -> None:
    """Create a service account; prints its client_id and client_secret once, as JSON."""
    from service.auth.principal import Principal
    from service.clients import service as clients_service
    from service.clients.schemas import ClientCreate

    scopes = [s for item in scope for s in item.replace(",", " ").split()]
    created = _with_session(
        lambda session, _s: clients_service.create_client(
            session, Principal.operator(), ClientCreate(name=name, scopes=scopes)
        )
    )
    typer.echo(created.model_dump_json(indent=2))


@clients_app.command("deactivate")
def clients_deactivate(client_id: Annotated[str, typer.Argument(help="The client_id.")]) -> None:
    """Deactivate a service account: no new tokens, and its issued tokens stop working."""
    from service.auth.principal import Principal
    from service.clients import service as clients_service

    _with_session(
        lambda session, _s: clients_service.set_client_active(
            session, Principal.operator(), client_id, active=False
        )
    )
    typer.echo(f"{client_id} deactivated", err=True)


@clients_app.command("delete")
def clients_delete(client_id: Annotated[str, typer.Argument(help="The client_id.")]) -> None:
    """Delete a service account; its issued tokens stop working."""
    from service.auth.principal import Principal
    from service.clients import service as clients_service

    _with_session(lambda session, _s: clients_service.delete_client(session, Principal.operator(), client_id))
    typer.echo(f"{client_id} deleted", err=True)


def render_contracts(settings: Settings | None = None) -> dict[str, str]:
    """The OpenAPI document and GraphQL SDL exactly as `contracts export` writes them."""
    from strawberry.printer import print_schema

    from service.api.graphql import build_schema
    from service.main import create_app

    settings = settings or get_settings()
    openapi = create_app(settings).openapi()
    return {
        "openapi.json": json.dumps(openapi, indent=2, ensure_ascii=False) + "\n",
        "schema.graphql": print_schema(build_schema(settings)) + "\n",
    }


@contracts_app.command("export")
def contracts_export(
    out: Annotated[
        Path | None, typer.Option(help="Directory for both files (default: openapi/ and schema/).")
    ] = None,
) -> None:
    """Write openapi.json and schema.graphql."""
    rendered = render_contracts()
    targets = (
        {name: out / name for name in rendered}
        if out
        else {"openapi.json": Path("openapi/openapi.json"), "schema.graphql": Path("schema/schema.graphql")}
    )
    for name, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered[name], encoding="utf-8")
        typer.echo(f"wrote {path}", err=True)


def main() -> None:  # pragma: no cover
    sys.exit(app())
