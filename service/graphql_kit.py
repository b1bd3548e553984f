"""The GraphQL toolkit the domains build their types and resolvers with; it imports no domain.

Views of read models, inputs of input schemas, resolvers of one service call, DataLoaders for
nested fields. The guide, with examples: docs/graphql.md; the assembly: `service.api.graphql`.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

import strawberry
from fastapi import Request
from graphql import GraphQLObjectType
from pydantic import AwareDatetime, BaseModel, EmailStr, ValidationError, create_model
from pydantic.fields import FieldInfo
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo
from strawberry.types.base import get_object_definition
from strawberry.types.nodes import SelectedField
from strawberry.utils.str_converters import to_camel_case

from service.auth.principal import Principal
from service.concurrency import etag
from service.errors import Invalid, Unauthenticated
from service.fields import InputModel
from service.pagination import Cursor, Page, PageParams

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Enum)
Fetch = Callable[..., Awaitable[Any]]


class Context(BaseContext):
    def __init__(self, request: Request, principal: Principal | None) -> None:
        super().__init__()
        self._principal = principal
        self.sessionmaker = request.app.state.sessionmaker
        self.read_engine = request.app.state.read_engine
        self.pitch_cache = request.app.state.pitch_cache
        self.word_lists = request.app.state.word_lists  # the app's lint word lists
        # A query operation only reads (set by the schema's `QueriesRead` extension): its fields
        # run on a session without a transaction, as REST reads do (service.api.rest).
        self.reads_only = False
        self._session: AsyncSession | None = None
        self._reader: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._loaders: dict[Any, DataLoader[Any, Any]] = {}

    @property
    def principal(self) -> Principal:
        """The authenticated caller; anonymous operations fail with UNAUTHENTICATED."""
        if self._principal is None:
            raise Unauthenticated()
        return self._principal

    @asynccontextmanager
    async def session(self, *, fresh: bool = True, transaction: bool = False) -> AsyncIterator[AsyncSession]:
        """The request's session, for one use at a time. `fresh`: no transaction left open by
        an earlier use (a use case begins its own); loaders pass False to join a read. In a
        query, a session without a transaction unless the call needs one (`transaction`)."""
        async with self._lock:
            if self.reads_only and not transaction:
                if self._reader is None:
                    self._reader = self.sessionmaker(bind=self.read_engine)
                session = self._reader
            else:
                if self._session is None:
                    self._session = self.sessionmaker()
                session = self._session
                if fresh and session.in_transaction():
                    await session.rollback()
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def close(self) -> None:
        for session in (self._session, self._reader):
            if session is not None:
                await session.close()

    def loader(self, fetch: Fetch, missing: Callable[[], Any] = lambda: None) -> DataLoader[Any, Any]:
        """The request's DataLoader over `fetch(session, principal, ids)`; see `load`."""
        found = self._loaders.get(fetch)
        if found is None:

            async def batch(ids: list[Any]) -> list[Any]:
                async with self.session(fresh=False) as session:
                    rows = await fetch(session, self.principal, ids)
                return [rows[i] if i in rows else missing() for i in ids]

            found = self._loaders[fetch] = DataLoader(load_fn=batch)
        return found


Info = StrawberryInfo[Context, None]


_VIEWS: dict[type, type] = {}  # read model → its view, for the fields of views derived later
_BY_ID: dict[type, Fetch] = {}  # view → its batch function by id, for `loaded` fields of its type


def view(
    *models: type[BaseModel],
    name: str,
    description: str | None = None,
    exclude: Iterable[str] = (),
    fields: str | None = None,
    undescribed: str = "",
    by_id: Fetch | None = None,
) -> Callable[[type[T]], type[T]]:
    """A Strawberry output type whose nodes are the given read models themselves (docs/graphql.md).
    A model's `revision` is shown as its `etag` (`etag_field`), first of the class's own fields.
    `by_id`: the batch function that `loaded` fields of this type load it with."""

    def make(cls: type[T]) -> type[T]:
        accepted = (cls, *models)
        cls.is_type_of = staticmethod(lambda obj, info: isinstance(obj, accepted))  # type: ignore[attr-defined]  # strawberry reads it
        if "revision" in models[0].model_fields and not fields and not hasattr(cls, "etag"):
            cls.etag = etag_field()  # type: ignore[attr-defined]  # a strawberry field
            cls.__annotations__ = {"etag": str} | inspect.get_annotations(cls)

        def field(f: str, info: FieldInfo, kind: Any) -> Any:
            if info.description and f not in undescribed.split():
                setattr(cls, f, strawberry.field(description=info.description))
            return kind

        _derive(cls, models[0], name, fields, {*exclude, "revision"}, _VIEWS, field)
        for model in models:
            _VIEWS.setdefault(model, cls)
        if by_id is not None:
            _BY_ID[cls] = by_id
        return strawberry.type(cls, name=name, description=description or _doc(cls))

    return make


def _doc(cls: type) -> str | None:
    """The class's docstring as a description: on one line, as GraphQL shows it."""
    return " ".join((cls.__doc__ or "").split()) or None


def _derive(
    cls: type,
    model: type[BaseModel],
    name: str,
    fields: str | None,
    exclude: Iterable[str],
    types: dict[type, type],
    field: Callable[[str, FieldInfo, Any], Any],
) -> None:
    """The class's fields: `fields` (space-separated) or else the model's less `exclude`, each as
    the class declares it or else `field(name, info, its GraphQL type)`; then the class's others."""
    own = dict(inspect.get_annotations(cls))
    annotations = {}
    for f in fields.split() if fields else [f for f in model.model_fields if f not in exclude]:
        if f in own:
            annotations[f] = own.pop(f)
        else:
            info = model.model_fields[f]
            annotations[f] = field(f, info, _graphql_type(info.annotation, f"{name}.{f}", types))
    cls.__annotations__ = annotations | own


def view_type(model: type[BaseModel], name: str, description: str | None = None, **options: Any) -> Any:
    """A `view` with nothing of its own: the read model's fields, as GraphQL sees them."""
    return view(model, name=name, description=description, **options)(type(name, (), {}))


def _graphql_type(annotation: Any, where: str, types: dict[type, type] = _VIEWS) -> Any:
    """A model field's (or an argument's) type as GraphQL sees it: UUIDs are IDs, models their
    views (inputs), constraints dropped; GraphQL's own types (`ID`, an input) stay."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is uuid.UUID:
        return strawberry.ID
    if origin is Annotated:  # constraints (a length, a pattern) say nothing to GraphQL
        return _graphql_type(args[0], where, types)
    if origin in (Union, UnionType):
        members = [_graphql_type(a, where, types) for a in args]
        # GraphQL's Float takes ints too
        members = list(dict.fromkeys(float if m is int and float in members else m for m in members))
        return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007  # from a tuple
    if origin is list:
        return list[_graphql_type(args[0], where, types)]  # type: ignore[misc]  # a type built at run time
    if annotation is EmailStr:
        return str
    if annotation is AwareDatetime:
        return dt.datetime
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return graphql_enum(annotation)
    if annotation in (str, int, float, bool, dt.date, dt.datetime, type(None), strawberry.ID, *_MODELS):
        return annotation
    if annotation in types:
        return types[annotation]
    generic = getattr(annotation, "__pydantic_generic_metadata__", None)
    if generic and generic["origin"] is Page:  # what a list service returns
        return Connection[_graphql_type(generic["args"][0], where, types)]  # type: ignore[misc]  # built at run time
    raise TypeError(f"{where}: declare this field on the class ({annotation!r} has no GraphQL type)")


def graphql_enum(values: type[E], name: str | None = None) -> type[E]:
    """The domain's value set as a GraphQL enum: its class name (or `name`), its docstring (on one
    line) the description. Registered in place, once: arguments and fields then share it."""
    if not hasattr(values, "__strawberry_definition__") or name is not None:
        strawberry.enum(values, name=name or values.__name__, description=_doc(values))
    return values


ETAG_DESCRIPTION = "The ETag: pass it as `ifMatch` to refuse stale writes."


def etag_field(of: Callable[[Any], str] | None = None, description: str | None = ETAG_DESCRIPTION) -> Any:
    """The `etag: String!` field: `etag(root.revision)`, or `of(root)`."""

    def resolve(root: strawberry.Parent[Any]) -> str:
        return of(root) if of is not None else etag(root.revision)

    return lean(
        strawberry.field(resolver=resolve, description=description), lambda root, _info: resolve(root)
    )


def lean(field: Any, resolve: Callable[[Any, Any], Any]) -> Any:
    """A field without arguments that graphql-core resolves with `resolve(root, info)` itself
    (`lean_resolvers`), not through Strawberry's resolver wrapper (its arguments, extensions and
    info object: ~8 µs a call, for fields resolved once per node of a page)."""
    field.lean = resolve
    return field


def lean_resolvers(schema: strawberry.Schema) -> None:
    """Give graphql-core the `lean` resolvers of the schema's fields (and of `loaded` ones).

    Only fields with no arguments, permission classes or field extensions: what Strawberry's
    wrapper would have done for them is nothing. Schema extensions still see every field
    (graphql-core applies middleware around any resolver)."""
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for graphql_field in graphql_type.fields.values():
            field = (graphql_field.extensions or {}).get("strawberry-definition")
            if field is None or field.arguments or field.permission_classes or field.extensions:
                continue
            if hasattr(field, "loads"):
                graphql_field.resolve = _loader_of(field)
            elif hasattr(field, "lean"):
                graphql_field.resolve = field.lean


def _loader_of(field: Any) -> Callable[[Any, Any], Any]:
    fetch, key, missing, many = field.loads
    batch = fetch or _by_id(field.type)
    if many:
        return lambda root, info: load_all(info, batch, getattr(root, key))
    return lambda root, info: load(info, batch, getattr(root, key), missing)


@strawberry.type
class PageInfo:
    has_next_page: bool
    # Forward pagination only (first/after): there is never a previous page to go back to.
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    # Encoded when asked for: a page read for its nodes (most are) encodes none.
    cursor: str = lean(
        strawberry.field(resolver=lambda self: _cursor_of(self.node)),
        lambda root, _info: _cursor_of(root.node),
    )
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[Any]) -> Connection[T]:
        """A service page as a connection; the nodes are its items."""
        edges = [Edge(node=item) for item in page.items]
        # Relay: endCursor is the last edge's cursor on every page (the last one included, so a
        # client can later ask for what was added after it); null only when there are no edges.
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                has_previous_page=False,
                start_cursor=_cursor_of(page.items[0]) if edges else None,
                end_cursor=_cursor_of(page.items[-1]) if edges else None,
            ),
        )


def _cursor_of(item: Any) -> str:  # a hit in another order (search) knows its own cursor
    return item.edge_cursor() if hasattr(item, "edge_cursor") else Cursor(item.created_at, item.id).encode()


def query(fetch: Fetch, description: str | None = None, **arguments: Any) -> Any:
    """A field resolved by one service call, `fetch(session, principal, *required, **optional)`,
    typed as the view of what `fetch` returns (a `Page`: a `Connection`, with `first` and `after`).
    `arguments` in order, each a type or `(type, default[, service_name])`, then the options
    (`schema`, `parent`, `result`, `prime`, `ahead`); see docs/graphql.md."""
    return strawberry.field(resolver=_resolver(fetch, arguments), description=description)


def mutation(fetch: Fetch, description: str | None = None, **arguments: Any) -> Any:
    """A `query` that `roots` puts in `Mutation` (strawberry.mutation is strawberry.field)."""
    field = query(fetch, description, **arguments)
    field.mutates = True
    return field


def roots(*domains: type) -> tuple[type, type]:
    """The schema's `Query` and `Mutation` of the domains' root fields (strawberry types), in order:
    each `mutation` in `Mutation`, every other field in `Query`."""

    def of(name: str, mutates: bool) -> type:
        fields = [f for domain in domains for f in get_object_definition(domain, strict=True).fields]
        fields = [f for f in fields if getattr(f, "mutates", False) is mutates]
        chosen = {f.python_name: copy.copy(f) for f in fields}
        if len(chosen) < len(fields):
            raise TypeError(f"{name}: two domains declare a field of the same name")
        return strawberry.type(type(name, (), chosen))

    return of("Query", False), of("Mutation", True)


def _resolver(fetch: Fetch, arguments: dict[str, Any]) -> Fetch:
    returns = get_type_hints(fetch)["return"]
    page = getattr(returns, "__pydantic_generic_metadata__", {}).get("origin") is Page
    schema: type[BaseModel] | None = arguments.pop("schema", None)
    parent: str | None = arguments.pop("parent", None)  # on a type: `root.<parent>` is passed first
    # A type built of the service's tuple, field by field; or the name of the one attribute of
    # what it returns that is the answer (the class annotates the field's type then).
    result: Any = arguments.pop("result", None)
    prime: Fetch | None = arguments.pop("prime", None)
    ahead: list[str] = arguments.pop("ahead", "").split()
    arguments = arguments or _arguments_of(fetch, 3 if parent else 2, schema)
    specs: dict[str, tuple[Any, Any]] = {}
    passed_as = {}  # GraphQL argument → the service's keyword, where they differ
    for name, spec in arguments.items():
        nullable = type(None) in get_args(spec)
        kind, default, *renamed = spec if isinstance(spec, tuple) else (spec, None if nullable else _REQUIRED)
        specs[name], passed_as[name] = (kind, default), renamed[0] if renamed else name
    constrained: dict[str, Any] = {n: s for n, s in specs.items() if _constrained(s[0])}
    by_keyword = page or schema is None  # a schema's fields, but for a page's or one of our making
    if schema is None and constrained:  # validated together, as a filter model of their own would be
        schema = create_model(f"{fetch.__name__}_arguments", __base__=InputModel, **constrained)
    specs = {n: (_graphql_type(kind, n), default) for n, (kind, default) in specs.items()}
    required = [name for name in arguments if specs[name][1] is _REQUIRED]
    if page:  # after the required arguments, as the service takes them
        paging = {"first": (int, 50), "after": (str | None, None)}
        specs = {n: specs[n] for n in required} | paging | {n: specs[n] for n in specs if n not in required}
    validated = schema.model_fields if schema is not None else {}
    node: Any = _VIEWS[returns.__pydantic_generic_metadata__["args"][0]] if ahead else None
    transaction = getattr(fetch, "needs_transaction", False)  # service.db.needs_transaction

    async def resolve(info: Info, root: Any = None, **values: Any) -> Any:
        info.context.principal  # noqa: B018  # UNAUTHENTICATED before any argument is looked at
        given = {name: _argument(name, specs[name][0], values[name]) for name in arguments}
        data = {name: given.pop(name) for name in list(given) if name in validated}
        first = ([getattr(root, parent)] if parent else []) + [given.pop(n) for n in required if n in given]
        if page:
            first.append(PageParams(limit=values["first"], cursor=values["after"]))
        if schema is not None and by_keyword:
            given |= dict(validate_input(schema, data))
        elif schema is not None:
            first.append(validate_input(schema, data))
        keywords = {passed_as[name]: value for name, value in given.items()}
        async with info.context.session(transaction=transaction) as session:
            found = await fetch(session, info.context.principal, *first, **keywords)
        if isinstance(result, str):
            return getattr(found, result)
        if result is not None:  # a tuple: the type's fields in order
            return result(**dict(zip(result.__annotations__, found, strict=True)))
        if not page:
            return found
        if prime is not None:
            info.context.loader(prime).prime_many({item.id: item for item in found.items})
        for name in ahead:
            if wants(info, f"edges.node.{name}"):
                field = node.__strawberry_definition__.get_field(name)
                batch, key, missing, _many = field.loads
                batch = batch or _by_id(field.type)
                keys = dict.fromkeys(getattr(item, key) for item in found.items)  # in one batch, now
                await info.context.loader(batch, missing).load_many([k for k in keys if k is not None])
        return Connection.of(found)

    roots = [inspect.Parameter("root", inspect.Parameter.KEYWORD_ONLY, annotation=Any)] * bool(parent)
    signature = [inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=Info), *roots] + [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, (kind, default) in specs.items()
    ]
    kind = Any if isinstance(result, str) else result or _graphql_type(returns, fetch.__qualname__)
    resolve.__signature__ = inspect.Signature(signature, return_annotation=kind)  # type: ignore[attr-defined]  # strawberry reads it
    resolve.__name__ = fetch.__name__
    return resolve


_REQUIRED = inspect.Parameter.empty


def _arguments_of(fetch: Fetch, skip: int, schema: type[BaseModel] | None) -> dict[str, Any]:
    """The arguments a field declares none of: the service's own parameters after the first `skip`,
    in order. A UUID is `id` (one at most), `data` is `input` (its schema's input) or, with `schema`,
    that schema's fields; the others keep their names; each typed and defaulted as the service (or
    the schema) says, a nullable one defaulting to null."""
    hints = get_type_hints(fetch, include_extras=True)  # constraints kept: they are validated
    arguments: dict[str, Any] = {}
    for parameter in list(inspect.signature(fetch).parameters.values())[skip:]:
        kind = hints[parameter.name]
        if kind is PageParams:
            continue
        if parameter.name == "data" and schema is not None:
            for name, info in schema.model_fields.items():
                arguments[name] = (info.annotation, _REQUIRED if info.is_required() else info.default)
            continue
        name = "id" if kind is uuid.UUID else "input" if parameter.name == "data" else parameter.name
        if name == "input":
            kind = Union[tuple(_INPUTS.get(k, k) for k in get_args(kind) or (kind,))]  # noqa: UP007  # from a tuple
        default = parameter.default
        if default is _REQUIRED and type(None) in get_args(kind):
            default = None
        if name in arguments:
            raise TypeError(f"{fetch.__qualname__}: two arguments named {name}; declare them")
        arguments[name] = (kind, default, parameter.name)
    return arguments


def _constrained(kind: Any) -> bool:  # `Slug | None`: a length, a pattern, that GraphQL does not say
    return any(get_origin(k) is Annotated for k in (kind, *get_args(kind)))


def _argument(name: str, kind: Any, value: Any) -> Any:
    """An argument as the service takes it: an ID as a UUID, an input as its domain schema."""
    kinds = get_args(kind) or (kind,)
    if value is None:
        return None
    if strawberry.ID in kinds:
        return to_uuid(value, to_camel_case(name))
    model = next((_MODELS[k] for k in kinds if k in _MODELS), None)
    return validate_input(model, value) if model is not None else value


def loaded(
    key: str,
    description: str | None = None,
    *,
    fetch: Fetch | None = None,
    many: bool = False,
    missing: Callable[[], Any] = lambda: None,
) -> Any:
    """A nested field: `load(info, fetch, root.<key>, missing)` (`many`: `load_all` over a list of
    keys). Its type is the class's annotation of it; `fetch` by default its view's `by_id`."""

    def resolve(root: strawberry.Parent[Any], info: Info) -> Any:
        batch, keys = fetch or _by_id(info.return_type), getattr(root, key)
        return load_all(info, batch, keys) if many else load(info, batch, keys, missing)

    field = strawberry.field(resolver=resolve, description=description)
    field.loads = (fetch, key, missing, many)  # for `query(ahead=...)` and `lean_resolvers`
    return field


def _by_id(kind: Any) -> Fetch:
    while hasattr(kind, "of_type"):  # a list or nullable of the view
        kind = kind.of_type
    return _BY_ID[kind]


def load(info: Info, fetch: Fetch, key: Any, missing: Callable[[], Any] = lambda: None) -> Any:
    """The value under `key` (None for a None key): itself when loaded, else an awaitable."""
    if key is None:
        return None
    loader = info.context.loader(fetch, missing)
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return loader.load(key)


def load_all(info: Info, fetch: Fetch, keys: Iterable[Any]) -> Any:
    """The values found under `keys`, in order (missing ones left out); see `load`."""
    found = [load(info, fetch, key) for key in keys]
    if not any(isinstance(f, Awaitable) for f in found):
        return [f for f in found if f is not None]

    async def wait() -> list[Any]:
        done = [await f if isinstance(f, Awaitable) else f for f in found]
        return [f for f in done if f is not None]

    return wait()


def wants(info: Info, path: str) -> bool:
    """Whether the dotted GraphQL field path is selected below the current field (fragments
    included), e.g. `wants(info, "edges.node.department")`."""
    level = [child for field in info.selected_fields for child in field.selections]
    for name in path.split("."):
        matched = [field for field in _fields(level) if field.name == name]
        if not matched:
            return False
        level = [child for field in matched for child in field.selections]
    return True


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:  # a fragment spread or inline fragment: its fields count as selected here
            yield from _fields(selection.selections)


_INPUTS: dict[type, type] = {}  # input schema → its GraphQL input, for nested inputs
_MODELS: dict[type, type[BaseModel]] = {}  # GraphQL input → its input schema, for resolvers


def input_of(
    model: type[BaseModel],
    *,
    name: str,
    description: str | None = None,
    exclude: Iterable[str] = (),
    fields: str | None = None,
    patch: bool = False,
    sparse: bool = False,
    undescribed: str = "",
) -> Callable[[type[T]], type[T]]:
    """A Strawberry input with the fields of the domain's input schema, chosen, typed and described
    as `view` does, required and defaulted as the schema says (docs/graphql.md)."""

    def make(cls: type[T]) -> type[T]:
        def field(f: str, info: FieldInfo, kind: Any) -> Any:
            optional = patch or (sparse and not info.is_required())
            # A nested input the schema defaults is null by default: then the schema's default applies.
            nested = kind in _MODELS and not info.is_required()
            default: dict[str, Any] = {}
            if optional:
                default["default"] = strawberry.UNSET
            elif nested:
                default["default"] = None
            elif info.default_factory is not None:
                default["default_factory"] = info.default_factory
            elif not info.is_required():
                default["default"] = info.default
            described = info.description if f not in undescribed.split() else None
            if default or described:
                setattr(cls, f, strawberry.field(description=described, **default))
            return kind | None if optional or nested else kind

        _derive(cls, model, name, fields, exclude, _INPUTS, field)
        _INPUTS[model], _MODELS[cls] = cls, model
        return strawberry.input(cls, name=name, description=description or _doc(cls))

    return make


def input_type(model: type[BaseModel], name: str, description: str | None = None, **options: Any) -> Any:
    """An `input_of` with nothing of its own."""
    return input_of(model, name=name, description=description, **options)(type(name, (), {}))


def plain(value: Any) -> Any:
    """A GraphQL input as plain data: enums as their values, omitted fields left out. A field
    whose default is null is left out when null (null and omitted are one to GraphQL then), so
    the input schema's own default applies: on create, a null `audience` is everyone."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not strawberry.UNSET}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        given = {f.name: (getattr(value, f.name), f.default) for f in dataclasses.fields(value)}
        return {
            name: plain(v)
            for name, (v, default) in given.items()
            if v is not strawberry.UNSET and not (v is None and default is None)
        }
    return value


def validate_input(model: type[M], data: Any) -> M:
    """Build an input schema from a GraphQL input; pydantic errors become BAD_USER_INPUT."""
    try:
        return model.model_validate(plain(data))
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "detail": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        raise Invalid("The input does not match the schema; see `errors`.", errors=errors) from exc


def parse(info: Info, model: type[M], data: Any) -> M:
    """`validate_input` after authenticating the caller, as REST does."""
    info.context.principal  # noqa: B018  # raises UNAUTHENTICATED for an anonymous caller
    return validate_input(model, data)


def to_uuid(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Invalid(f"{field} is not a UUID.", errors=[{"field": field, "detail": "not a UUID"}]) from exc
