"""The `cuecard` command for operators: serve, migrate, demo data, tokens, clients, contracts."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypedDict, TypeVar

import typer

from service.config import Settings, get_settings

if TYPE_CHECKING:  # imported where used: `cuecard --help` stays quick
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from service.people.schemas import PersonRead

T = TypeVar("T")


class _Plain(TypedDict):
    no_args_is_help: bool
    rich_markup_mode: None


# Plain click output (rich_markup_mode=None): a usage error is an "Error: ..." line, not a
# box drawn around it, and help text keeps the line breaks written here (the scope list).
_PLAIN: _Plain = {"no_args_is_help": True, "rich_markup_mode": None}
app = typer.Typer(
    help="CueCard: API-first internal marketing.",
    add_completion=False,
    pretty_exceptions_enable=False,
    **_PLAIN,
)
db_app = typer.Typer(help="Database schema.", **_PLAIN)
demo_app = typer.Typer(help="Demo data.", **_PLAIN)
clients_app = typer.Typer(help="Service accounts for integrations.", **_PLAIN)
contracts_app = typer.Typer(help="OpenAPI and GraphQL contracts.", **_PLAIN)

# What each scope of service.auth.principal.SCOPES lets a service account do (`clients create
# --help`); tests/test_cli_misuse.py fails when a scope has no line here.


def _fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: what an operator's misuse gets, never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"cuecard {package_version('cuecard')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("cuecard (not installed)")
        raise typer.Exit()


@app.callback()
def _check_configuration(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
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
    check_port: Annotated[
        bool, typer.Option("--check-port", help="Only check that the port is free, then exit.")
    ] = False,
) -> None:
    """Run the API server (uvicorn) with a bounded graceful shutdown."""
    import uvicorn

    settings = get_settings()
    _require_free_port(host, port)
    if check_port:
        return
    typer.echo(_email_line(settings), err=True)
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
        access_log=False,  # the Edge middleware logs each request (uvicorn's line would repeat it)
        server_header=False,
    )


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on 127.0.0.1:PORT (/metrics)."),
    ] = None,
) -> None:
    """Run the worker on its own: events handed on, webhooks delivered, time noticed.

    `cuecard serve` embeds one by default; run this where CUECARD_EMBEDDED_WORKER=false, as
    many as you like on PostgreSQL (they share the work safely). SIGTERM drains and exits 0."""
    asyncio.run(_run_worker(metrics_port))


async def _run_worker(metrics_port: int | None) -> None:
    from service.db import create_engine, create_sessionmaker
    from service.logging import configure_logging
    from service.wiring import connect_domains, session_info
    from service.worker import Worker, running

    settings = get_settings()
    configure_logging(settings)
    connect_domains()
    engine = create_engine(settings)
    try:
        await _require_migrated(engine)
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1")
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        sessions = create_sessionmaker(engine, info=session_info(settings))
        typer.echo(f"cuecard worker running on {_database_label()} (SIGTERM or Ctrl-C stops it)", err=True)
        typer.echo(_email_line(settings), err=True)
        async with running(Worker(sessions, settings), grace_seconds=settings.shutdown_grace_seconds):
            await stopped.wait()
    finally:
        await engine.dispose()


def _email_line(settings: Settings) -> str:
    """Whether notifications go out by e-mail, and through which server (never its password)."""
    from service.notifications.channels import email as email_channel

    return email_channel.describe(settings.smtp_url, settings.mail_from)


def _require_free_port(host: str, port: int) -> None:
    """Say plainly that the port is taken, before anything else (`make run` prints a token
    after this check), instead of uvicorn's log line after start-up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: SO_REUSEADDR, so a port left in TIME_WAIT is not reported busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno in (98, 48, 10048) else f"cannot be bound ({exc.strerror})"
            _fail(f"port {port} on {host} {reason}: pick another with --port (make run: PORT={port + 1})", 2)


def _database_label() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    """The driver's own words, first line only (SQLAlchemy's text adds the SQL and a URL)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (safe to run from several replicas at once on PostgreSQL)."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from service.migrate import upgrade

    try:
        upgrade(get_settings().resolved_database_url, revision)
    except (OSError, SQLAlchemyError) as exc:
        _fail(f"cannot migrate the database at {_database_label()}: {_reason(exc)}")
    except CommandError as exc:
        _fail(str(exc))
    typer.echo(f"database at {revision}", err=True)


async def _require_migrated(engine: AsyncEngine) -> None:
    """Reachable and at this build's schema (or a newer one), else one line saying what to do."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.migrate import current_revision, head_revision, known_revisions

    try:
        current = await current_revision(engine)
    except (OSError, SQLAlchemyError) as exc:
        _fail(f"cannot reach the database at {_database_label()}: {_reason(exc)}")
    if current is None:
        _fail(f"the database at {_database_label()} has no CueCard schema yet: run `cuecard db upgrade`")
    if current != head_revision() and current in known_revisions():  # ahead (a newer release) is fine
        _fail(f"the database schema is older than this release ({current}): run `cuecard db upgrade`")


async def _run_with_session(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    from service.db import create_engine, create_sessionmaker
    from service.wiring import connect_domains, session_info

    connect_domains()
    settings = get_settings()
    engine = create_engine(settings)
    # What create_app's sessions carry that the CLI's work needs: the demo's writes lint.
    info = session_info(settings)
    try:
        await _require_migrated(engine)
        async with create_sessionmaker(engine, info=info)() as session:
            return await work(session, settings)
    finally:
        await engine.dispose()


def _one_line(errors: list[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {detail}" if field else detail for field, detail in errors)


def _with_session(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run `work(session, settings)`; a refused operation prints its reason on one line."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from service.errors import CueCardError

    try:
        return asyncio.run(_run_with_session(work))
    except CueCardError as exc:
        fields = _one_line(
            [(str(e.get("field", "")), str(e.get("detail", ""))) for e in exc.extras.get("errors", [])]
        )
        _fail(f"{exc.detail or exc.title}" + (f" ({fields})" if fields else ""))
    except ValidationError as exc:
        _fail(_one_line([(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]))
    except (OSError, SQLAlchemyError) as exc:
        _fail(f"database error at {_database_label()}: {_reason(exc)}")


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when no people exist yet.")] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Delete ALL data first (every row of every table), then load the demo. "
            "Refused when CUECARD_ENV=production.",
        ),
    ] = False,
) -> None:
    """Load the demo company (Japanese and English)."""
    from service.auth.principal import Principal
    from service.demo import loader

    if reset and if_empty:
        _fail("--reset and --if-empty contradict each other: pick one", 2)
    if reset and get_settings().env == "production":
        # No override: wiping a production database is a job for its own tools, on purpose.
        _fail("demo load --reset deletes every row and is refused when CUECARD_ENV=production", 2)

    async def work(session: AsyncSession, _settings: Settings) -> bool:
        return await loader.load(session, Principal.operator("demo"), if_empty=if_empty, reset=reset)

    loaded = _with_session(work)
    message = "demo data loaded" if loaded else "demo data already present"
    typer.echo(f"all data deleted, {message}" if reset else message, err=True)


@app.command()
def token(
    email: Annotated[str, typer.Option(help="The person's e-mail.")],
    role: Annotated[str, typer.Option(help="admin, editor, manager or employee.")],
    department: Annotated[str | None, typer.Option(help="Department key.")] = None,
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds.")] = None,
) -> None:
    """Mint a token from the service's own key (creates the person if missing, else sets their
    role). Tokens act with the stored role: changing it later changes what this token may do."""
    from service.auth.principal import HUMAN_ROLES, Principal, is_role
    from service.auth.tokens import TokenService
    from service.people import repository as people_repository
    from service.people import service as people_service

    if not is_role(role):
        _fail(f"--role must be one of {', '.join(HUMAN_ROLES)} (not {role!r})", 2)

    async def work(session: AsyncSession, settings: Settings) -> str:
        # The stored role and department before, read first: ensure_person updates this row.
        before = await people_repository.get_person_by_email(session, email)
        was = None
        if before is not None:
            departments = await people_repository.departments_by_ids(
                session, [before.department_id] if before.department_id else []
            )
            old = departments.get(before.department_id) if before.department_id else None
            was = (before.role, old.key if old else None)
        person = await people_service.ensure_person(
            session, Principal.operator(), email=email, role=role, department_key=department
        )
        typer.echo(_token_note(person, was), err=True)
        claims = {"sub": str(person.id), "email": person.email, "role": person.role}
        return TokenService(settings).mint(claims, ttl)[0]

    typer.echo(_with_session(work))


def _token_note(person: PersonRead, was: tuple[str, str | None] | None) -> str:
    """What `token` did to the stored person, so changing someone's role is never silent."""
    stored = f"stored role {person.role}" + (
        f", department {person.department_key}" if person.department_key else ""
    )
    if was is None:
        return f"{person.email}: created, {stored} (tokens act with the stored role)"
    changes = []
    if was[0] != person.role:
        changes.append(f"role {was[0]} -> {person.role}")
    if was[1] != person.department_key:
        changes.append(f"department {was[1] or 'none'} -> {person.department_key or 'none'}")
    if not changes:
        return f"{person.email}: unchanged, {stored} (tokens act with the stored role)"
    return (
        f"{person.email}: CHANGED {', '.join(changes)}; {stored} "
        "(tokens act with the stored role: their earlier tokens too)"
    )


def _scopes_epilog() -> str:
    from service.auth.principal import SCOPE_DESCRIPTIONS, SCOPES

    # One description per scope, shared with the OpenAPI document's client-credentials flow.
    # \b keeps click from re-wrapping the list into one paragraph.
    lines = [f"  {scope:<15} {SCOPE_DESCRIPTIONS[scope]}" for scope in SCOPES]
    return "\b\nScopes (repeat --scope, or separate with commas):\n" + "\n".join(lines)


@clients_app.command("create", epilog=_scopes_epilog())
def clients_create(
    name: Annotated[str, typer.Option(help="What the integration is.")],
    scope: Annotated[list[str], typer.Option(help="A scope; repeat for several.")],
    api_token: Annotated[
        bool, typer.Option("--api-token", help="Also issue a long-lived API token (`api_token` in the JSON).")
    ] = False,
) -> None:
    """Create a service account; prints its client_id and client_secret (and api_token) once, as JSON."""
    from service.auth.principal import Principal
    from service.clients import service as clients_service
    from service.clients.schemas import ClientCreate

    scopes = [s for item in scope for s in item.replace(",", " ").split()]
    created = _with_session(
        lambda session, _s: clients_service.create_client(
            session, Principal.operator(), ClientCreate(name=name, scopes=scopes, api_token=api_token)
        )
    )
    typer.echo(created.model_dump_json(indent=2, exclude_unset=True))


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
