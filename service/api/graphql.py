"""The GraphQL door: the schema assembled from the domains' types, limits, error codes, route.
The domains write their types with `service.graphql_kit`; none of them imports this module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from inspect import CO_ITERABLE_COROUTINE
from pathlib import Path
from types import CoroutineType, GeneratorType
from typing import Any, NamedTuple

import orjson
import strawberry
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIWebSocketRoute
from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSyntaxError,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path as GraphQLPath
from graphql.pyutils import gather_with_cancel
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.graphql import OperationType

from service import graphql_kit as gql
from service.api import graphql_limits as limits
from service.api.problems import database_problem
from service.auth.dependencies import resolve_principal
from service.auth.principal import Principal
from service.config import Settings
from service.errors import CueCardError, MethodNotAllowed, ServiceUnavailable
from service.graphql_kit import Context
from service.logging import get_logger
from service.readcache import not_kept

log = get_logger("cuecard.graphql")


async def get_context(
    request: Request, principal: Principal | None = Depends(resolve_principal)
) -> AsyncIterator[Context]:
    context = Context(request, principal)
    try:
        yield context
    finally:
        await context.close()


_AWAITABLE_TYPES: dict[type, bool] = {}


def _is_awaitable(value: Any) -> bool:
    """Whether graphql-core must await a resolver's value, decided by its type once.

    Strawberry's check ends in `hasattr(value, "__await__")`, and on a pydantic read model
    (the nodes here) a missing attribute goes through `BaseModel.__getattr__` and an exception:
    ~190 of them for a page of 50 people. `await` looks `__await__` up on the type only, so
    the type says it all; generator-based coroutines are the one case decided per value."""
    kind = type(value)
    known = _AWAITABLE_TYPES.get(kind)
    if known is None:
        if len(_AWAITABLE_TYPES) > 4096:  # types made at run time (named rows) stay bounded
            _AWAITABLE_TYPES.clear()
        known = _AWAITABLE_TYPES[kind] = kind is CoroutineType or hasattr(kind, "__await__")
    if known:
        return True
    return kind is GeneratorType and bool(value.gi_code.co_flags & CO_ITERABLE_COROUTINE)


class _Leaf(NamedTuple):
    name: str  # the response name
    attribute: str  # the Python attribute it reads
    kind: Any  # its scalar or enum type
    non_null: bool


class _Nested(NamedTuple):
    name: str  # the response name
    attribute: str  # the Python attribute it reads
    field_type: Any  # as declared (non-null, list): an error is handled as that type says
    object_type: GraphQLObjectType
    many: bool  # a list of non-null objects


def _basic(field: GraphQLField | None) -> Any:
    """Strawberry's definition of a field that only reads an attribute of the object (its basic
    field: no resolver, arguments, permissions or field extensions), else None."""
    definition = (field.extensions or {}).get("strawberry-definition") if field is not None else None
    if (
        definition is None
        or not getattr(field.resolve, "_is_default", False)  # type: ignore[union-attr]  # field is set here
        or definition.base_resolver is not None
        or definition.arguments
        or definition.permission_classes
        or definition.extensions
    ):
        return None
    return definition


def _leaf(name: str, field: GraphQLField | None) -> _Leaf | None:
    """The field as a plain leaf: a basic field typed a scalar or an enum."""
    definition = _basic(field)
    if definition is None:
        return None
    kind = field.type  # type: ignore[union-attr]  # a basic field is a field
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if not is_leaf_type(inner):
        return None
    return _Leaf(name, definition.python_name, inner, isinstance(kind, GraphQLNonNull))


def _nested(name: str, field: GraphQLField | None, details: Any) -> _Nested | None:
    """The field as a plain object, or a list of non-null ones: a basic field whose value
    graphql-core would only complete, of a concrete object type, selected without directives
    (`@defer`, `@stream` take graphql-core's path)."""
    definition = _basic(field)
    if definition is None or any(d.node.directives for d in details):
        return None
    kind = field.type  # type: ignore[union-attr]  # a basic field is a field
    inner: Any = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    many = isinstance(inner, GraphQLList)
    if many:
        if not isinstance(inner.of_type, GraphQLNonNull):
            return None
        inner = inner.of_type.of_type
    if not isinstance(inner, GraphQLObjectType):
        return None
    return _Nested(name, definition.python_name, kind, inner, many)


class _Plan(NamedTuple):
    """How to execute one grouped field set (graphql-core keeps one per selection and type)."""

    fields: Any  # the grouped field set, kept so that its id() in _PLANS is never another's
    parent: GraphQLObjectType
    leaves: tuple[_Leaf, ...]
    nested: tuple[_Nested, ...]
    rest: dict[str, Any]  # the other fields, as a grouped field set of their own
    order: tuple[str, ...] | None  # the response's key order, when it is not leaves, nested, rest


_PLANS: dict[int, _Plan] = {}
_MISSED = object()


def _plan(parent: GraphQLObjectType, fields: dict[str, Any]) -> _Plan:
    leaves, nested, rest = [], [], {}
    for name, details in fields.items():
        field = parent.fields.get(details[0].node.name.value)
        if (leaf := _leaf(name, field)) is not None:
            leaves.append(leaf)
        elif (inner := _nested(name, field, details)) is not None:
            nested.append(inner)
        else:
            rest[name] = details
    in_order = list(fields) == [f.name for f in leaves] + [f.name for f in nested] + list(rest)
    return _Plan(fields, parent, tuple(leaves), tuple(nested), rest, None if in_order else tuple(fields))


def _read(leaf: _Leaf, source: Any) -> Any:
    """The leaf's output value, or _MISSED when graphql-core's own path must say what it is."""
    try:
        value = getattr(source, leaf.attribute)
        if value is None:
            return _MISSED if leaf.non_null else None
        coerced = leaf.kind.coerce_output_value(value)
    except Exception:
        return _MISSED
    return _MISSED if coerced is None or coerced is Undefined else coerced


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution with shortcuts for what a page of nodes is made of.

    The plain leaf fields of an object (`_leaf`) are read and coerced here, before graphql-core
    executes the others: no path, resolve info, resolver chain or value completion per field,
    ~6 µs of a field's ~8 (a page of 50 people has ~350 of them). Plain object fields (`_nested`:
    a connection's `edges`, an edge's `node`) are read and their selections executed here too,
    without graphql-core's completion of each (a GraphQL page of 50 people: 3.35 → 3.11 ms of
    CPU in process). A value that is null where it may not be, of the wrong type, or fails takes
    graphql-core's own path, which then reports it as it would have; errors inside an object are
    handled as its field's type says, as graphql-core does (tests/test_graphql_reads.py compares
    both). Not with field middleware (a schema extension's `resolve` hook): it must see every
    field; not inside a deferred fragment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = _is_awaitable  # type: ignore[assignment]  # a TypeGuard in graphql-core's hint
        manager = self.middleware_manager
        self._plain = manager is None or not manager._middleware_resolvers

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if not self._plain:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plan = _PLANS.get(id(grouped_field_set))
        if plan is None or plan.fields is not grouped_field_set or plan.parent is not parent_type:
            if len(_PLANS) > 4096:
                _PLANS.clear()
            plan = _PLANS[id(grouped_field_set)] = _plan(parent_type, grouped_field_set)
        if not plan.leaves and not plan.nested:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results = {}
        for leaf in plan.leaves:
            value = _read(leaf, source_value)
            if value is _MISSED:
                value = super().execute_field(
                    parent_type,
                    source_value,
                    grouped_field_set[leaf.name],
                    GraphQLPath(path, leaf.name, parent_type.name),
                    position_context,
                )
            results[leaf.name] = value
        pending: list[str] = []
        try:
            for nested in plan.nested:
                details = grouped_field_set[nested.name]
                value = (  # inside a deferred fragment, graphql-core's own path
                    self._nested(nested, parent_type, source_value, path, details)
                    if position_context is None
                    else _MISSED
                )
                if value is _MISSED:
                    value = super().execute_field(
                        parent_type,
                        source_value,
                        details,
                        GraphQLPath(path, nested.name, parent_type.name),
                        position_context,
                    )
                results[nested.name] = value
                if self.is_awaitable(value):
                    pending.append(nested.name)
            others = None
            if plan.rest:
                others = super().execute_fields(parent_type, source_value, path, plan.rest, position_context)
                if isinstance(others, dict):
                    results.update(others)
                    others = None
        except Exception:
            if pending:  # as graphql-core does: what was started is settled, not left unawaited
                self.settle_in_background([results[name] for name in pending])
            raise
        if pending or others is not None:
            return _merged(results, pending, others, plan.order)
        return results if plan.order is None else {name: results[name] for name in plan.order}

    def _nested(
        self, nested: _Nested, parent_type: GraphQLObjectType, source: Any, path: Any, details: Any
    ) -> Any:
        """A plain object field's value (or an awaitable of it), completed as graphql-core
        completes it but without its resolver chain, resolve info and value completion; _MISSED
        where graphql-core's own path must run (a null, an exception or a value its type refuses
        among the values, not a list, deferred, a reading error)."""
        try:
            value = getattr(source, nested.attribute)
        except Exception:
            return _MISSED
        if value is None or (nested.many and not isinstance(value, list | tuple)):
            return _MISSED
        if not _all_of_type(nested.object_type.is_type_of, value if nested.many else (value,)):
            return _MISSED  # graphql-core's path reports it (or awaits an asynchronous check)
        grouped, deferred, _forbidden = self.collect_subfields(nested.object_type, details)
        if deferred:
            return _MISSED
        field_path = GraphQLPath(path, nested.name, parent_type.name)
        try:
            if nested.many:
                completed = self._objects(nested.object_type, value, field_path, grouped)
            else:
                completed = self.execute_fields(nested.object_type, value, field_path, grouped, None)
        except Exception as error:
            self.handle_field_error(error, nested.field_type, details, field_path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, nested.field_type, details, field_path)
        return completed

    def _objects(self, kind: GraphQLObjectType, values: Any, path: Any, grouped: Any) -> Any:
        """A list of non-null objects: an item's error is the list's (its items may not be null)."""
        items: list[Any] = []
        try:
            for i, value in enumerate(values):
                items.append(self.execute_fields(kind, value, GraphQLPath(path, i, None), grouped, None))
        except Exception:
            self.settle_in_background([item for item in items if self.is_awaitable(item)])
            raise
        awaited = [i for i, item in enumerate(items) if self.is_awaitable(item)]
        if not awaited:
            return items
        return _filled(items, awaited)

    async def _completed_later(self, completed: Any, field_type: Any, details: Any, path: Any) -> Any:
        try:
            return await completed
        except Exception as error:
            self.handle_field_error(error, field_type, details, path)
            return None


def _all_of_type(check: Any, values: Any) -> bool:
    """Whether every value is an object graphql-core would complete as it is: not null, not an
    exception (graphql-core raises one returned as a value), and one the type's `is_type_of`
    (when it has one: graphql_kit.view's isinstance) says True of. The check is called without
    resolve info: the schema's (Strawberry's and the views') never read it; anything but True
    (False, an awaitable, an error) leaves the field to graphql-core."""
    try:
        return all(
            value is not None
            and not isinstance(value, Exception)
            and (check is None or check(value, None) is True)
            for value in values
        )
    except Exception:
        return False


async def _filled(items: list[Any], awaited: list[int]) -> list[Any]:
    values = await gather_with_cancel(*(items[i] for i in awaited))
    for i, value in zip(awaited, values, strict=True):
        items[i] = value
    return items


async def _merged(
    results: dict[str, Any], pending: list[str], others: Any, order: tuple[str, ...] | None
) -> dict[str, Any]:
    """The object once its awaited fields are in: nested objects' and the other fields'."""
    awaitables = [results[name] for name in pending] + ([others] if others is not None else [])
    values = await gather_with_cancel(*awaitables) if len(awaitables) > 1 else [await awaitables[0]]
    results.update(zip(pending, values, strict=False))
    if others is not None:
        results.update(values[-1])
    return results if order is None else {name: results[name] for name in order}


class Schema(strawberry.Schema):
    """Every error carries `extensions.code`; unexpected ones are masked (and logged). With
    `hide_suggestions` (production) no message says "Did you mean …?" (validation runs without
    them; this catches those execution adds, e.g. enum variables). Done on the result: an error
    raised while the extensions' hooks are entered (a syntax error, the token limit) skips them."""

    hide_suggestions = False

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Unexpected errors are logged below; expected domain errors are not log noise.
        return None

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = await super().execute(*args, **kwargs)
        if getattr(result, "errors", None):
            result.errors = [
                self._process(error, hide_suggestions=self.hide_suggestions)
                for error in result.errors  # type: ignore[union-attr]  # not None: checked just above
            ]
        return result

    @staticmethod
    def _process(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
        def again(
            message: str, extensions: dict[str, Any], original: Exception | None = None
        ) -> GraphQLError:
            # source/positions: a syntax error has no nodes, only a place in the document.
            return GraphQLError(
                message, error.nodes, error.source, error.positions, error.path, original, extensions
            )

        if hide_suggestions and "Did you mean" in error.message:
            error = again(
                limits.without_suggestions(error.message), error.extensions or {}, error.original_error
            )
        original = error.original_error
        if isinstance(original, CueCardError):
            extensions = {"code": original.code, "status": original.status}
            if original.extras.get("errors"):
                extensions["errors"] = original.extras["errors"]
            return again(original.detail or original.title, extensions)
        if original is None or isinstance(original, GraphQLError):
            parse_failed = isinstance(error, GraphQLSyntaxError)
            code = "GRAPHQL_PARSE_FAILED" if parse_failed else "GRAPHQL_VALIDATION_FAILED"
            return again(error.message, {"code": code} | dict(error.extensions or {}))
        unavailable = database_problem(original)
        if unavailable is not None:  # as REST's 503: the caller should retry
            log.warning("database_unavailable", error=type(original).__name__)
            return again(
                unavailable.detail or unavailable.title, {"code": ServiceUnavailable.code, "status": 503}
            )
        log.error("graphql_unexpected_error", path=error.path, exc_info=original)
        return again("Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"})


class QueriesRead(SchemaExtension):
    """A query's fields read without a transaction (`Context.reads_only`), as REST reads do: no
    BEGIN and ROLLBACK around a page that is one statement, and reads on asyncpg directly
    (service.reads). A mutation's fields keep their use cases' transactions.

    And only a query answered without errors may be served again from memory (a mutation that
    happened to write nothing still ran, and must run again)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        try:
            query = context.operation_type is OperationType.QUERY
        except RuntimeError:  # no operation could be chosen: nothing runs, an error answer
            query = False
        context.context.reads_only = query
        yield
        if not query or context.result is None or context.result.errors:
            not_kept()


def build_schema(settings: Settings) -> strawberry.Schema:
    from service.accounts.graphql import AccountRoot
    from service.briefs.graphql import BriefRoot
    from service.campaigns.graphql import CampaignRoot, CheckQuery
    from service.campaigns.readiness_graphql import ReadinessQuery
    from service.evidence.graphql import EvidenceRoot
    from service.feed.graphql import FeedQuery
    from service.feedback.graphql import FeedbackRoot
    from service.messages.graphql import MessageRoot
    from service.notifications.graphql import NotificationRoot
    from service.people.graphql import PeopleRoot
    from service.pitch.graphql import PitchQuery
    from service.products.graphql import ProductRoot
    from service.search.graphql import SearchQuery

    query, mutation = gql.roots(
        PeopleRoot,
        ProductRoot,
        BriefRoot,
        EvidenceRoot,
        MessageRoot,
        PitchQuery,
        FeedbackRoot,
        AccountRoot,
        CampaignRoot,
        ReadinessQuery,
        CheckQuery,
        FeedQuery,
        SearchQuery,
        NotificationRoot,
    )
    hide_suggestions = settings.env == "production"
    # Rule classes and the validation cache are made once per schema: the cache's key holds
    # the rules, so a rule class made per request would never hit.
    shape = limits.validation_rules(
        max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases
    )
    rules: list[type[ASTValidationRule]] = list(shape)
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    validated = limits.ValidationResults(hide_suggestions=hide_suggestions, precheck=shape)
    # Factories, not instances: a fresh extension per request (the caches are shared, per schema).
    extensions: list[Any] = [
        partial(
            limits.DocumentParser,
            limits.TextCache(),
            max_chars=settings.graphql_max_document_chars,
            max_tokens=settings.graphql_max_tokens,
        ),
        partial(AddValidationRules, rules),
        partial(limits.CachedValidation, validated),
        partial(limits.QueryCost, max_cost=settings.graphql_max_cost),
        QueriesRead,
    ]
    schema = Schema(
        query=query, mutation=mutation, extensions=extensions, execution_context_class=ExecutionContext
    )
    schema.hide_suggestions = hide_suggestions
    gql.lean_resolvers(schema)
    return schema


GRAPHIQL_HTML = (Path(__file__).parent.parent / "static" / "graphiql" / "index.html").read_text()


class OfflineGraphQLRouter(GraphQLRouter):
    """GraphiQL from the service's own static files (no CDN, works offline). Operations run by
    POST only: a GET is GraphiQL when it is on and a browser asks for a page, else 405
    (problem+json, `Allow: POST`). No subscriptions: a WebSocket upgrade is refused before any
    dependency runs (closed with 1008, which a server answers with 403 to the handshake)."""

    def __init__(self, *args: Any, graphiql: bool, **kwargs: Any) -> None:
        super().__init__(*args, graphql_ide="graphiql", **kwargs)  # type: ignore[misc]  # kwargs never hold graphql_ide
        self.graphiql = graphiql
        # Strawberry's own WebSocket route resolves the context (our principal dependency wants
        # an HTTP request) before it looks at protocols: a 500. Replace it with a clean refusal.
        self.routes[:] = [r for r in self.routes if not isinstance(r, (APIWebSocketRoute, WebSocketRoute))]
        self.add_api_websocket_route("", _refuse_websocket)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        if not self.graphiql:
            raise _post_only()
        return HTMLResponse(GRAPHIQL_HTML.replace("{{root}}", request.scope.get("root_path", "")))

    def encode_json(self, data: object) -> bytes:
        # orjson: a page of 50 nodes spent ~0.4 ms in the stdlib encoder; UTF-8 out, as REST.
        return orjson.dumps(data)

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if (
            request.scope["type"] == "http"
            and request.method == "GET"
            and not self.should_render_graphql_ide(self.request_adapter_class(request))
        ):
            raise _post_only()
        return await super().run(request, context=context, root_value=root_value)


def _post_only() -> MethodNotAllowed:
    return MethodNotAllowed("GraphQL operations are sent with POST.", headers={"Allow": "POST"})


async def _refuse_websocket(websocket: WebSocket) -> None:
    await websocket.close(code=1008, reason="GraphQL is served over HTTP POST; there are no subscriptions.")


def build_router(settings: Settings) -> GraphQLRouter:
    return OfflineGraphQLRouter(
        build_schema(settings),
        graphiql=settings.graphiql_enabled,
        context_getter=get_context,
        allow_queries_via_get=False,  # queries by POST only: no CSRF-able GETs, no URL-logged queries
        multipart_uploads_enabled=False,
        subscription_protocols=(),
    )
