"""The ASGI application: settings, engine, routers, GraphQL, middleware."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from fastapi_problem.handler import customise_openapi
from sqlalchemy.orm import configure_mappers
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service import __doc__ as package_doc
from service.accounts import rest as accounts_rest
from service.api import graphql, openapi, ops, problems
from service.api.cached_reads import CachedReads
from service.api.middleware import Edge, RequestGuard
from service.api.query import refuse_unknown_query_parameters
from service.auth import cache as auth_cache
from service.auth.tokens import TokenService
from service.briefs import rest as briefs_rest
from service.campaigns import rest as campaigns_rest
from service.clients import admin_rest as clients_admin_rest
from service.clients import rest as clients_rest
from service.clients.service import FailureLimiter
from service.config import Settings, get_settings
from service.db import create_engine, create_sessionmaker
from service.events import sequencer
from service.events.hub import close_all as close_all_streams
from service.events.hub import hub_for
from service.events.service import COMMITTED_SIGNAL, CommittedSignal
from service.evidence import rest as evidence_rest
from service.feed import rest as feed_rest
from service.feedback import rest as feedback_rest
from service.landing import router as landing_router
from service.listener import ChangeListener, asyncpg_dsn
from service.logging import configure_logging, get_logger
from service.messages import lint
from service.messages import rest as messages_rest
from service.migrate import head_revision, known_revisions
from service.notifications import rest as notifications_rest
from service.notifications.channels import email as email_channel
from service.people import rest as people_rest
from service.pitch import cache as pitch_cache
from service.pitch import rest as pitch_rest
from service.products import rest as products_rest
from service.readcache import CHANNEL as READ_CACHE_CHANNEL
from service.readcache import ReadCache, watch
from service.scim import rest as scim_rest
from service.search import rest as search_rest
from service.streams import rest as streams_rest
from service.webhooks import rest as webhooks_rest
from service.wiring import connect_domains, session_info
from service.worker import Worker, running

# Allocations between young-generation collections while serving (the default is 700).
YOUNG_GC_THRESHOLD = 10_000
STATIC_DIR = Path(__file__).parent / "static"
DESCRIPTION = """
CueCard makes every department tell the same value story, in the customer's words, and
measures whether they can. REST under `/api/v1`, GraphQL at `/graphql`.

Errors are RFC 9457 problem details (`application/problem+json`); lists are cursor-paginated
(`limit`, `cursor`, `next_cursor`, `Link: rel="next"`); single resources carry an `ETag`.
Authenticate with `Authorization: Bearer <JWT>`; integrations obtain one from
`POST /api/v1/auth/token` (client credentials).
"""


class FastPath:
    """Outermost of the app's layers, in front of Starlette's and FastAPI's own: a request a
    fast path claims (the CRM's pitch read, service/pitch/rest.py `fast_path`) is answered
    without them; every other one goes through the full stack."""

    def __init__(self, app: ASGIApp, route: Callable[[Scope], ASGIApp | None]) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.route(scope)
        await (self.app if fast is None else fast)(scope, receive, send)


def _include(app: FastAPI, router: APIRouter, prefix: str = "", **options: Any) -> None:
    """Include a router, skipped for a path that starts with none of its routes' literal beginnings.

    FastAPI matches a request against the app's routers in order, and each route of each router
    ahead of the right one costs a full match with its scope bookkeeping: a path served by one
    of the last routers paid ~130 of them, ~0.4 ms a request (`python -m bench.reads.routing`).
    A route's path can only match a path that starts with its text up to the first parameter,
    so one `startswith` stands in for the router's matches where none of them could succeed;
    any other path gets FastAPI's own match, unchanged."""
    app.include_router(router, prefix=prefix, **options)
    branch = app.router.routes[-1]
    full_match = branch.matches
    counted, known = -1, None  # how many routes the router had, and their beginnings

    def beginnings() -> tuple[str, ...] | None:
        nonlocal counted, known
        if len(router.routes) != counted:  # first use, or a route added since
            paths = [getattr(route, "path", None) for route in router.routes]
            starts = tuple((prefix + p).split("{", 1)[0] for p in paths if isinstance(p, str))
            # None: a route matched by something else than its path (a nested router): no gate.
            counted, known = len(paths), starts if len(starts) == len(paths) else None
        return known

    def matches(scope: Scope) -> tuple[Match, Scope]:
        starts, path, root = beginnings(), scope["path"], scope.get("root_path", "")
        # Routes match the path below the root path (behind a proxy's prefix); either will do.
        if starts is None or path.startswith(starts) or (root and path[len(root) :].startswith(starts)):
            return full_match(scope)
        return Match.NONE, {}

    branch.matches = matches  # type: ignore[method-assign]  # gate this one branch, as a subclass would


def _operation_id(route: APIRoute) -> str:
    # A generated client reads `list_people`, not `list_people_api_v1_people_get`.
    return route.name


def _end_streams_on_exit_signal() -> Callable[[], None]:
    """Chains the server's SIGTERM/SIGINT handlers so an exit signal ends live streams at once.

    uvicorn lets open responses finish before the lifespan shutdown runs, and a live stream
    never finishes by itself: without this, one open stream would hold every deploy for the
    whole graceful-shutdown time. Only where a server installed handlers (uvicorn, in the main
    thread); returns what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    chained: dict[int, Callable[[int, FrameType | None], Any]] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if callable(handler):
            chained[signum] = handler
    if signal.SIGTERM not in chained:  # Python's default: no server is handling exit signals
        return lambda: None

    def on_exit(signum: int, frame: FrameType | None) -> None:
        close_all_streams()
        chained[signum](signum, frame)

    for number in chained:
        signal.signal(number, on_exit)

    def restore() -> None:
        for number, handler in chained.items():
            if signal.getsignal(number) is on_exit:
                signal.signal(number, handler)

    return restore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    connect_domains()
    # Every model is imported by now (the routers import them): configure the mappers at
    # start-up. SQLAlchemy does it lazily, when the process builds its first ORM object, and
    # that first request then pays ~25 ms of mapper set-up (seen as the one long event-loop
    # stall of a 10,000-item batch, tests/feedback/test_batch_loop.py).
    configure_mappers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = hub_for(app)
        listener = None
        if app.state.engine.dialect.name == "postgresql":
            # Other replicas' changes reach this process's caches through NOTIFY: pitches
            # published, people and service clients changed (one connection for both).
            listener = ChangeListener(asyncpg_dsn(app.state.engine.url))
            listener.subscribe(pitch_cache.CHANNEL, app.state.pitch_cache)
            listener.subscribe(auth_cache.CHANNEL, app.state.auth_cache)
            listener.subscribe(READ_CACHE_CHANNEL, app.state.read_cache)
            # Live streams wake when any replica's sequencer numbers new events.
            listener.subscribe(sequencer.CHANNEL, hub)
            listener.start()
        app.state.listener = listener
        background = AsyncExitStack()
        app.state.worker = None
        # Said once at start-up: e-mail is off until an operator configures SMTP.
        get_logger("cuecard.app").info(email_channel.describe(settings.smtp_url, settings.mail_from))
        if settings.embedded_worker:
            worker = Worker(app.state.sessionmaker, settings, published=hub.published)
            # A use case of this process that commits events wakes it: handed on at once.
            app.state.events_committed.listeners.append(worker.wake)
            # Leaving the stack drains it: the job running finishes (a delivery is recorded).
            app.state.worker = await background.enter_async_context(
                running(worker, grace_seconds=settings.shutdown_grace_seconds)
            )
        # Everything built at start-up (routes, schemas, GraphQL types) lives as long as the
        # process: keep it out of the cyclic collector's full passes (shorter GC pauses, p99).
        gc.collect()
        gc.freeze()
        # A request's objects (rows, read models, a GraphQL result tree) mostly die with it:
        # at the default 700 allocations the young generation was collected mid-request again
        # and again (~0.4 ms of a GraphQL page of 50, ~2 ms of the home query). Restored on exit.
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *thresholds[1:])
        restore_signals = _end_streams_on_exit_signal()
        yield
        restore_signals()
        gc.set_threshold(*thresholds)
        await hub.aclose()  # open streams end (their clients resume with Last-Event-ID)
        await background.aclose()
        if listener is not None:
            await listener.stop()
        await app.state.engine.dispose()

    app = FastAPIOffline(
        title="CueCard API",
        version="1.0.0",
        summary=(package_doc or "").strip(),
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        telemetry={key: settings.opentelemetry for key in ("tracing", "metrics", "logs")},
        static_url="/static/docs",
        redoc_url=None,
        # A parameter an operation does not declare is a 422, not silently ignored.
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    engine = create_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    several_replicas = engine.dialect.name == "postgresql"  # SQLite: one process, see `cuecard serve`
    app.state.pitch_cache = pitch_cache.PitchCache(
        requires_listener=several_replicas, locale_fallbacks=settings.locale_fallback_map
    )
    app.state.auth_cache = auth_cache.AuthCache(
        requires_listener=several_replicas,
        ttl_seconds=settings.auth_cache_seconds,
        signal_file=auth_cache.signal_file(engine.url),
    )
    app.state.read_cache = ReadCache(
        ttl_seconds=settings.read_cache_seconds, requires_listener=several_replicas
    )
    # The `?account=` leads follow the tables the read cache sees written, here and (through
    # the read cache's channel) on other replicas.
    watch(app.state.pitch_cache)
    app.state.read_cache.followers.append(app.state.pitch_cache)
    # This app's lint word lists, from its own settings: the services that lint get them
    # from the session (writes' warnings) or from the lint endpoint, never from the environment.
    app.state.word_lists = lint.WordLists.from_settings(settings)
    app.state.events_committed = CommittedSignal()
    app.state.sessionmaker = create_sessionmaker(
        engine,
        info={
            COMMITTED_SIGNAL: app.state.events_committed,
            **pitch_cache.session_info(app.state.pitch_cache),
            **auth_cache.session_info(app.state.auth_cache),
            **session_info(settings, app.state.word_lists),
        },
    )
    # Reads that never write run without a transaction on this engine (service.api.rest
    # read_session; GraphQL queries, service.graphql_kit.Context).
    app.state.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.tokens = TokenService(settings)
    app.state.token_failures = FailureLimiter(settings.token_failures_per_minute)
    app.state.migration_head = head_revision()
    app.state.known_migrations = known_revisions()

    handler = problems.install(app)
    # Every operation documents its RFC 9457 problem responses, status by status, how to
    # authenticate (bearer, or the client-credentials flow) and the conditional headers it takes.
    app.openapi = problems.document_problem_responses(  # type: ignore[method-assign]  # FastAPI: replace app.openapi to customise the schema
        openapi.document_security(
            openapi.document_conditional_reads(
                problems.document_validation_errors(
                    customise_openapi(app.openapi, documentation_uri_template=problems.PROBLEM_TYPE_URI)
                )
            )
        )
    )
    _include(app, pitch_rest.router)
    # Second: routes are matched in order, router by router, and /graphql matches nothing else
    # (the routers ahead of it are skipped by a `startswith` each: `_include`).
    _include(app, graphql.build_router(settings), prefix="/graphql", include_in_schema=False)
    _include(app, ops.router)
    _include(app, landing_router)  # GET /: links to the docs, not a 404
    _include(app, clients_rest.router)
    _include(app, clients_admin_rest.router)
    _include(app, people_rest.router)
    _include(app, products_rest.router)
    _include(app, messages_rest.router)
    _include(app, briefs_rest.router)
    _include(app, evidence_rest.router)
    _include(app, feedback_rest.router)
    _include(app, feedback_rest.themes_router)
    _include(app, accounts_rest.router)
    _include(app, feed_rest.router)
    _include(app, campaigns_rest.router)
    _include(app, scim_rest.router)
    _include(app, webhooks_rest.router)
    _include(app, notifications_rest.router)
    _include(app, streams_rest.router)
    _include(app, search_rest.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The CRM's hot read goes around the stack Starlette builds on the first request.
    build_stack, fast_routes = app.build_middleware_stack, pitch_rest.fast_path(handler)
    app.build_middleware_stack = lambda: FastPath(build_stack(), fast_routes)  # type: ignore[method-assign]  # wrap, as a subclass would

    # Added innermost first: ErrorBoundary sits inside, Edge outermost, so every response
    # (413s and 500s included) carries X-Request-ID and nosniff, and is counted and logged.
    app.add_middleware(problems.ErrorBoundary, handler=handler)
    app.add_middleware(CachedReads)  # inside the URL and body checks, outside the routes
    app.add_middleware(
        RequestGuard, max_body=settings.max_body_bytes, max_batch_body=settings.max_batch_body_bytes
    )
    app.add_middleware(Edge)
    return app
