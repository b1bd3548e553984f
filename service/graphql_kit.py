"""The GraphQL toolkit the domains build their types and resolvers with. It imports no domain.

The schema assembly (root Query and Mutation, limits, error codes, the route) is
`service.api.graphql`; a domain imports only this module, never the assembly.

Output types are views of the domain's read models: a resolver returns the service's `XRead`
(or a `Page[XRead]` wrapped by `Connection.of`) as it is, and each field reads the attribute
of the same name. Nothing is copied per object. A view's fields are derived from the model
(UUID → ID, a nested model → its view, a StrEnum → itself, constraints dropped); the class
declares only what differs: a description, another type, a derived field.

    @view(PersonRead, name="Person", exclude={"department_id", "revision"})
    class PersonType:
        etag: str = etag_field()           # from `revision`

        @strawberry.field                  # derived fields: `root` is the read model
        def department(root: strawberry.Parent[PersonRead], info: Info) -> DepartmentType | None:
            return load(info, people_service.departments_by_ids, root.department_id)

    PainType = view_type(Pain, "Pain")     # nothing of its own

- `view(*models, name=, description=None, exclude=(), fields=None)`: `strawberry.type` whose
  nodes may be instances of `models` (read models, or any object with those attributes) or of
  the class itself; it resolves unions and interfaces for them. Fields: `fields` (names,
  space-separated, in schema order) or else the first model's, in its order, less `exclude`;
  typed from the model unless the class declares them (in place); then the class's other
  fields and resolvers. A model's nested models need their views declared first (any module).
  A type with no read model behind it stays a plain `strawberry.type` built by hand.
  `view_type(model, name, **options)`: a view with no class body.
- `input_of(Model, name=, description=None, exclude=(), fields=None, patch=False)`: a
  `strawberry.input` with the fields of the domain's input schema, chosen and typed the same
  way (nested input models → their inputs declared first), required and defaulted as the
  schema says (a StrEnum default as its member); `patch`: every field optional and `UNSET`
  when omitted, so `parse` leaves it out. `input_type(Model, name, **options)`: no class body.
- `etag_field(of=None, description=ETAG_DESCRIPTION)`: the `etag` field, `etag(root.revision)`
  unless `of(root)` says otherwise. A model with an `etag` attribute: `strawberry.field(
  description=ETAG_DESCRIPTION)`.
- Enums: one `StrEnum` per value set in the domain, used by its schemas, its model's CHECK
  constraint (`service.value_sets.one_of`) and `strawberry.enum(TheStrEnum, name=...)`; a read
  model's plain string or member serialises as the GraphQL name, and arguments arrive as
  members (`plain` makes them values). The class name names the OpenAPI component: keep it
  unique across domains (`CampaignChannel`, not a second `Channel`).
- `Info`: `strawberry.Info[Context, None]`, the resolvers' `info` annotation.
- `run(info, fetch, *args, **kwargs)`: `await fetch(session, principal, *args, **kwargs)` in the
  request's session; what it returns is the node. Arguments are evaluated before `run`
  authenticates, so inputs go through `parse` (which authenticates first).
- `paged(info, fetch, first, after, **filters)`: `fetch(session, principal, PageParams, **filters)`
  (a `Page[XRead]`) as a `Connection`. `Connection.of(page, convert=None)` wraps a page you
  already have; `page_args(first, after)` is the `PageParams`.
- `parse(info, Model, data)`: authenticate, then a GraphQL input (nested inputs, lists, enums;
  omitted `UNSET` fields left out) or a dict of arguments validated into the domain's input
  schema; pydantic errors become BAD_USER_INPUT. `validate_input(Model, data)` without the
  authentication; `plain(data)` only the conversion (to adjust the dict before `parse`).
- `to_uuid(value, field="id")`: an `ID` argument as a UUID, BAD_USER_INPUT if it is not one.
- `load(info, fetch, key, missing=lambda: None)`: a per-request DataLoader over a service batch
  function `fetch(session, principal, ids) -> {id: XRead}`, one loader per function and request,
  so domains share it (pass the same `missing` for a function everywhere). Returns the value
  itself once loaded (no await, no task), else an awaitable: resolvers using it can be plain
  `def`. `missing()` answers for ids not found (None, or `list` for loaders keyed by a parent
  id); a None key is None. `load_all(info, fetch, keys)`: the found ones, in order, missing
  ones left out. `prime(info, fetch, keys, missing=...)`: load a page's keys up front (one
  batch), so that the nested resolvers answer synchronously; `wants(info,
  "edges.node.department")` (GraphQL names) says if a field is selected below the current one.

Sessions: a request has one AsyncSession, opened on first use and closed with the request.
Sibling resolvers run concurrently, so its uses are serialised by a lock; `run` (and
`Context.session()`) starts from no open transaction, so a mutation's use case begins and
commits its own; loaders join the read transaction they find. `Context.sessionmaker` is there
for services that manage their own sessions (the pitch).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import strawberry
from fastapi import Request
from pydantic import BaseModel, EmailStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo
from strawberry.types.nodes import SelectedField

from service.auth.principal import Principal
from service.concurrency import etag
from service.errors import Invalid, Unauthenticated
from service.pagination import Cursor, Page, PageParams

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Fetch = Callable[..., Awaitable[Any]]

# --- context ----------------------------------------------------------------------------------


class Context(BaseContext):
    def __init__(self, request: Request, principal: Principal | None) -> None:
        super().__init__()
        self._principal = principal
        self.settings = request.app.state.settings
        self.sessionmaker = request.app.state.sessionmaker
        self.pitch_cache = request.app.state.pitch_cache
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._loaders: dict[Any, DataLoader[Any, Any]] = {}

    @property
    def principal(self) -> Principal:
        """The authenticated caller; anonymous operations fail with UNAUTHENTICATED."""
        if self._principal is None:
            raise Unauthenticated()
        return self._principal

    @asynccontextmanager
    async def session(self, *, fresh: bool = True) -> AsyncIterator[AsyncSession]:
        """The request's session, for one use at a time. `fresh`: no transaction left open by
        an earlier use (a use case begins its own); loaders pass False to join a read."""
        async with self._lock:
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
        if self._session is not None:
            await self._session.close()

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

# --- output types -----------------------------------------------------------------------------


_VIEWS: dict[type, type] = {}  # read model → its view, for the fields of views derived later


def view(
    *models: type,
    name: str,
    description: str | None = None,
    exclude: Iterable[str] = (),
    fields: str | None = None,
) -> Callable[[type[T]], type[T]]:
    """A Strawberry output type whose nodes are the given read models themselves. Its fields:
    `fields` (names, space-separated) or else the first model's in their order less `exclude`,
    typed from the model unless the class declares them; then the class's other fields."""

    def make(cls: type[T]) -> type[T]:
        accepted = (cls, *models)

        def is_type_of(obj: Any, info: Any) -> bool:
            return isinstance(obj, accepted)

        cls.is_type_of = staticmethod(is_type_of)  # type: ignore[attr-defined]  # strawberry reads it
        if models and issubclass(models[0], BaseModel):
            own = dict(inspect.get_annotations(cls))
            model_fields = models[0].model_fields
            names = fields.split() if fields else [f for f in model_fields if f not in exclude]
            derived = {
                f: own.pop(f) if f in own else _graphql_type(model_fields[f].annotation, f"{name}.{f}")
                for f in names
            }
            cls.__annotations__ = derived | own
        for model in models:
            _VIEWS.setdefault(model, cls)
        return strawberry.type(cls, name=name, description=description)

    return make


def view_type(model: type, name: str, **options: Any) -> Any:
    """A `view` with nothing of its own: the read model's fields, as GraphQL sees them."""
    return view(model, name=name, **options)(type(name, (), {}))


def _graphql_type(annotation: Any, where: str, types: dict[type, type] = _VIEWS) -> Any:
    """A model field's type as GraphQL sees it: UUIDs are IDs, models their views (inputs)."""
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
    if annotation in (str, int, float, bool, dt.date, dt.datetime, type(None)) or (
        isinstance(annotation, type) and issubclass(annotation, Enum)
    ):
        return annotation
    if annotation in types:
        return types[annotation]
    raise TypeError(f"{where}: declare this field on the class ({annotation!r} has no GraphQL type)")


ETAG_DESCRIPTION = "The ETag: pass it as `ifMatch` to refuse stale writes."


def etag_field(of: Callable[[Any], str] | None = None, description: str = ETAG_DESCRIPTION) -> Any:
    """The `etag: String!` field: `etag(root.revision)`, or `of(root)`."""

    def resolve(root: strawberry.Parent[Any]) -> str:
        return of(root) if of is not None else etag(root.revision)

    return strawberry.field(resolver=resolve, description=description)


# --- Relay connections ------------------------------------------------------------------------


@strawberry.type
class PageInfo:
    has_next_page: bool
    # Forward pagination only (first/after): there is never a previous page to go back to.
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[Any], convert: Callable[[Any], Any] | None = None) -> Connection[T]:
        """A service page as a connection; nodes are the items (or `convert(item)`)."""
        edges = [
            Edge(
                cursor=Cursor(item.created_at, item.id).encode(),
                node=convert(item) if convert is not None else item,
            )
            for item in page.items
        ]
        # Relay: endCursor is the last edge's cursor on every page (the last one included, so a
        # client can later ask for what was added after it); null only when there are no edges.
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    from_page = of


def page_args(first: int, after: str | None) -> PageParams:
    return PageParams(limit=first, cursor=after)


# --- resolvers --------------------------------------------------------------------------------


async def run(info: Info, fetch: Fetch, *args: Any, **kwargs: Any) -> Any:
    """`fetch(session, principal, *args, **kwargs)` in the request's session."""
    principal = info.context.principal
    async with info.context.session() as session:
        return await fetch(session, principal, *args, **kwargs)


async def paged(info: Info, fetch: Fetch, first: int, after: str | None, **filters: Any) -> Any:
    """A list service call `fetch(session, principal, page, **filters)` as a Connection."""
    return Connection.of(await run(info, fetch, page_args(first, after), **filters))


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


async def prime(
    info: Info, fetch: Fetch, keys: Iterable[Any], missing: Callable[[], Any] = lambda: None
) -> None:
    """Load `keys` now, in one batch, so that `load` answers them without waiting."""
    wanted = list(dict.fromkeys(k for k in keys if k is not None))
    if wanted:
        await info.context.loader(fetch, missing).load_many(wanted)


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


# --- inputs -----------------------------------------------------------------------------------


_INPUTS: dict[type, type] = {}  # input schema → its GraphQL input, for nested inputs


def input_of(
    model: type[BaseModel],
    *,
    name: str,
    description: str | None = None,
    exclude: Iterable[str] = (),
    fields: str | None = None,
    patch: bool = False,
) -> Callable[[type[T]], type[T]]:
    """A Strawberry input with the fields of the domain's input schema (chosen as `view` does),
    its required fields required and its defaults; `patch`: every field optional and UNSET when
    omitted. Fields the class declares are taken as declared."""

    def make(cls: type[T]) -> type[T]:
        own = dict(inspect.get_annotations(cls))
        names = fields.split() if fields else [f for f in model.model_fields if f not in exclude]
        annotations: dict[str, Any] = {}
        for f in names:
            if f in own:
                annotations[f] = own.pop(f)
                continue
            info = model.model_fields[f]
            kind = _graphql_type(info.annotation, f"{name}.{f}", _INPUTS)
            annotations[f] = kind | None if patch else kind
            if patch:
                setattr(cls, f, strawberry.UNSET)
            elif info.default_factory is not None:
                setattr(cls, f, strawberry.field(default_factory=info.default_factory))
            elif not info.is_required():
                default = info.default
                enum = next(
                    (a for a in (kind, *get_args(kind)) if isinstance(a, type) and issubclass(a, Enum)), None
                )
                setattr(cls, f, enum(default) if enum is not None and default is not None else default)
        cls.__annotations__ = annotations | own
        _INPUTS[model] = cls
        return strawberry.input(cls, name=name, description=description)

    return make


def input_type(model: type[BaseModel], name: str, **options: Any) -> Any:
    """An `input_of` with nothing of its own."""
    return input_of(model, name=name, **options)(type(name, (), {}))


def plain(value: Any) -> Any:
    """A GraphQL input as plain data: enums as their values, omitted (UNSET) fields left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not strawberry.UNSET}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET
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
