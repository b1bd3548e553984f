"""SCIM 2.0 (RFC 7643/7644) at /scim/v2: Users and Groups for HR systems and identity providers.

A thin adapter like every other: it reads SCIM, calls the people service (which decides who
may provision and enrolls new hires in the same transaction) and writes SCIM. Errors go out
as SCIM Error messages (service/scim/errors.py). Not in the OpenAPI document: SCIM is its own
standard, described by its own discovery endpoints (/ServiceProviderConfig, /ResourceTypes,
/Schemas).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from scim2_models import (
    Context,
    ListResponse,
    Meta,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SearchRequest,
)
from starlette.responses import Response

from service.api.rest import public_url
from service.auth.dependencies import PrincipalDep
from service.auth.principal import Principal
from service.concurrency import check_if_match, etag, if_none_match_hits
from service.config import Settings
from service.db import SessionDep
from service.errors import NotFound, json_syntax_error
from service.groups import service as groups_service
from service.groups.schemas import GroupRead
from service.pagination import PageParams
from service.people import service as people_service
from service.people.schemas import PersonCreate, PersonUpdate, ProvisionedPersonRead
from service.scim import mapping
from service.scim.errors import MEDIA_TYPE, ScimProblem, from_validation_error, scim_errors
from service.scim.filters import MAX_FILTER_LENGTH, parse_filter, parse_group_filter
from service.scim.models import (
    CONFIG,
    MAX_RESULTS,
    POLICY,
    ScimGroup,
    ScimUser,
    published_schemas,
    resource_types,
)

router = APIRouter(prefix="/scim/v2", tags=["scim"], include_in_schema=False)


def provisioner(principal: PrincipalDep) -> Principal:
    """The caller, once the people policy agrees they may provision (401 before 403)."""
    people_service.check_can_provision(principal)
    return principal


ProvisionerDep = Annotated[Principal, Depends(provisioner)]
IfMatch = Annotated[str | None, Header()]


def _base(request: Request) -> str:
    # From CUECARD_PUBLIC_URL (or relative), never from the Host header.
    return public_url(request, "/scim/v2")


def _users_url(request: Request) -> str:
    return f"{_base(request)}/Users"


def _groups_url(request: Request) -> str:
    return f"{_base(request)}/Groups"


def scim_response(content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(content, status_code=status_code, headers=headers, media_type=MEDIA_TYPE)


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:  # what is wrong and where, as for the REST API
        where = json_syntax_error(exc.doc, exc.pos, exc.msg)["detail"]
        raise ScimProblem(f"The request body is not valid JSON: {where}.", scim_type="invalidSyntax") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ScimProblem("The request body is not valid JSON.", scim_type="invalidSyntax") from exc


# A PATCH's paths are parsed by scim2-models at about 60 µs a character: bounded here, so a
# 1 MiB body of path cannot hold the event loop for a minute. Real clients send a few short ones.
MAX_PATCH_OPERATIONS = 100
MAX_PATCH_PATH_LENGTH = MAX_FILTER_LENGTH


def _check_patch_size(payload: Any) -> None:
    operations = payload.get("Operations") if isinstance(payload, dict) else None
    if not isinstance(operations, list):
        return  # scim2-models reports the missing or malformed list
    if len(operations) > MAX_PATCH_OPERATIONS:
        raise ScimProblem(f"At most {MAX_PATCH_OPERATIONS} operations per PATCH.", scim_type="invalidValue")
    for operation in operations:
        path = operation.get("path") if isinstance(operation, dict) else None
        if isinstance(path, str) and len(path) > MAX_PATCH_PATH_LENGTH:
            raise ScimProblem(
                f"A PATCH path is longer than {MAX_PATCH_PATH_LENGTH} characters.", scim_type="invalidPath"
            )


def _update(fields: dict[str, Any]) -> PersonUpdate:
    try:
        return PersonUpdate(**fields)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


async def _resolve_department(session: SessionDep, principal: Principal, fields: dict[str, Any]) -> None:
    """`department` names a department by key or by name; the person keeps its key."""
    if fields.get("department_key"):
        fields["department_key"] = await people_service.department_key_for(
            session, principal, fields["department_key"]
        )


@dataclass(frozen=True, slots=True)
class _Resource:
    """What differs between Users and Groups; listing, searching, reading and writing the
    response are one code path for both."""

    name: str  # "User", "Group"; the endpoint is its plural
    model: type[ScimUser] | type[ScimGroup]
    parse_filter: Callable[[str | None], Any]
    # (session, principal, parsed filter, offset, limit) -> (total, items)
    fetch: Callable[[SessionDep, Principal, Any, int, int], Awaitable[tuple[int, Sequence[Any]]]]
    to_scim: Callable[[Request, Any], Any]

    def url(self, request: Request) -> str:
        return f"{_base(request)}/{self.name}s"

    def id(self, text: str) -> uuid.UUID:
        try:
            return uuid.UUID(text)
        except ValueError as exc:
            raise NotFound(f"No such {self.name}.") from exc

    def validated(self, payload: Any, context: Context) -> Any:
        with scim_errors():
            return self.model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)

    def patched(self, payload: Any, before: Any) -> Any:
        """`before` with the PatchOp in `payload` applied (a copy)."""
        after = before.model_copy(deep=True)
        with scim_errors():
            patch = PatchOp[self.model].model_validate(  # type: ignore[name-defined]  # the resource's model, chosen at run time
                payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
            )
            patch.patch(after, POLICY)
        return after

    def parameters(self, attributes: str | None, excluded: str | None) -> Any:
        if not attributes and not excluded:
            return None
        with scim_errors():
            return ResponseParameters[self.model].model_validate(  # type: ignore[name-defined]  # the resource's model, chosen at run time
                {"attributes": attributes, "excludedAttributes": excluded}
            )

    def response(
        self,
        request: Request,
        item: ProvisionedPersonRead | GroupRead,
        context: Context,
        *,
        status_code: int = 200,
        params: Any = None,
        location: bool = False,
    ) -> Response:
        tag = etag(item.revision)
        headers = {"ETag": tag}
        if location:
            headers["Location"] = f"{self.url(request)}/{item.id}"
        if request.method == "GET" and if_none_match_hits(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
        body = self.to_scim(request, item).model_dump(
            mode="json", scim_ctx=context, response_parameters=params
        )
        return scim_response(body, status_code=status_code, headers=headers)

    async def page(
        self,
        request: Request,
        session: SessionDep,
        principal: Principal,
        *,
        filter_text: str | None,
        start_index: int,
        count: int,
        params: Any,
        context: Context,
    ) -> Response:
        lookup = self.parse_filter(filter_text)
        # RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0.
        start = max(start_index, 1)
        total, items = await self.fetch(
            session, principal, lookup, start - 1, min(max(count, 0), MAX_RESULTS)
        )
        resources = [self.to_scim(request, item) for item in items]
        page = ListResponse[self.model](  # type: ignore[name-defined]  # the resource's model, chosen at run time
            total_results=total, start_index=start, items_per_page=len(resources), resources=resources
        )
        return scim_response(page.model_dump(mode="json", scim_ctx=context, response_parameters=params))

    async def search(self, request: Request, session: SessionDep, principal: Principal) -> Response:
        """The list query sent as a SearchRequest body (RFC 7644 §3.4.3)."""
        payload = await _json_body(request)
        with scim_errors():
            search = SearchRequest[self.model].model_validate(  # type: ignore[name-defined]  # the resource's model, chosen at run time
                payload, scim_ctx=Context.SEARCH_REQUEST, scim_policy=POLICY
            )
        return await self.page(
            request,
            session,
            principal,
            filter_text=payload.get("filter") if isinstance(payload, dict) else None,
            start_index=search.start_index or 1,
            count=MAX_RESULTS if search.count is None else search.count,
            params=search if search.attributes or search.excluded_attributes else None,
            context=Context.SEARCH_RESPONSE,
        )


async def _fetch_users(
    session: SessionDep, principal: Principal, lookup: Any, offset: int, limit: int
) -> tuple[int, Sequence[ProvisionedPersonRead]]:
    return await people_service.list_provisioned_people(
        session,
        principal,
        offset=offset,
        limit=limit,
        user_name=lookup.user_name,
        email=lookup.email,
        external_id=lookup.external_id,
    )


async def _fetch_groups(
    session: SessionDep, principal: Principal, lookup: Any, offset: int, limit: int
) -> tuple[int, Sequence[GroupRead]]:
    return await groups_service.list_groups(
        session,
        principal,
        offset=offset,
        limit=limit,
        display_name=lookup.display_name,
        external_id=lookup.external_id,
    )


def _wants_display(attributes: str | None) -> bool:
    """Whether `attributes` asks for members' display names (returned on request only)."""
    names = {a.strip().lower() for a in (attributes or "").split(",")}
    return bool(names & {"members.display", "urn:ietf:params:scim:schemas:core:2.0:group:members.display"})


USERS = _Resource(
    name="User",
    model=ScimUser,
    parse_filter=parse_filter,
    fetch=_fetch_users,
    to_scim=lambda request, person: mapping.to_scim(person, _users_url(request)),
)
GROUPS = _Resource(
    name="Group",
    model=ScimGroup,
    parse_filter=parse_group_filter,
    fetch=_fetch_groups,
    to_scim=lambda request, group: mapping.group_to_scim(
        group,
        _groups_url(request),
        _users_url(request),
        display=_wants_display(request.query_params.get("attributes")),
    ),
)


def _role_groups(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    return settings.scim_role_group_map


# --- discovery (RFC 7644 §4) -------------------------------------------------------------


def _list(model: Any, resources: list[Any]) -> dict[str, Any]:
    page = ListResponse[model](
        total_results=len(resources), start_index=1, items_per_page=len(resources), resources=resources
    )
    return page.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


async def _schemas(request: Request, session: SessionDep, principal: Principal) -> list[Schema]:
    # The departments that exist are published as `department`'s canonical values.
    departments = await people_service.list_departments(session, principal, PageParams(limit=200))
    return [
        schema.model_copy(
            update={"meta": Meta(resource_type="Schema", location=f"{_base(request)}/Schemas/{schema.id}")}
        )
        for schema in published_schemas([d.key for d in departments.items])
    ]


def _resource_types(request: Request) -> list[Any]:
    return [
        found.model_copy(
            update={
                "meta": Meta(
                    resource_type="ResourceType", location=f"{_base(request)}/ResourceTypes/{found.id}"
                )
            }
        )
        for found in resource_types()
    ]


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, principal: ProvisionerDep) -> Response:
    """What this SCIM service supports."""
    meta = Meta(resource_type="ServiceProviderConfig", location=f"{_base(request)}/ServiceProviderConfig")
    config = CONFIG.model_copy(update={"meta": meta})
    return scim_response(config.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get("/ResourceTypes")
async def list_resource_types(request: Request, principal: ProvisionerDep) -> Response:
    """The resource types served: User and Group."""
    return scim_response(_list(ResourceType, _resource_types(request)))


@router.get("/ResourceTypes/{resource_type_id}")
async def get_resource_type(request: Request, resource_type_id: str, principal: ProvisionerDep) -> Response:
    """One resource type."""
    for found in _resource_types(request):
        if found.id == resource_type_id:
            return scim_response(found.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise NotFound(f"No resource type '{resource_type_id}'.")


@router.get("/Schemas")
async def list_schemas(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """The schemas of User and its extensions, as far as CueCard keeps them."""
    return scim_response(_list(Schema, await _schemas(request, session, principal)))


@router.get("/Schemas/{schema_id}")
async def get_schema(
    request: Request, schema_id: str, session: SessionDep, principal: ProvisionerDep
) -> Response:
    """One schema, by its URN."""
    for schema in await _schemas(request, session, principal):
        if schema.id == schema_id:
            return scim_response(schema.model_dump(mode="json", scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise NotFound(f"No schema '{schema_id}'.")


# --- Users -------------------------------------------------------------------------------

Attributes = Annotated[str | None, Query(max_length=2000)]
ExcludedAttributes = Annotated[str | None, Query(alias="excludedAttributes", max_length=2000)]
# No max_length on `filter`: the filter parsers refuse a long one as invalidFilter on both paths.
Filter = Annotated[str | None, Query()]
StartIndex = Annotated[int, Query(alias="startIndex")]
Count = Annotated[int, Query()]


@router.get("/Users")
async def list_users(
    request: Request,
    session: SessionDep,
    principal: ProvisionerDep,
    filter: Filter = None,
    start_index: StartIndex = 1,
    count: Count = MAX_RESULTS,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """Users, oldest first; `filter` finds one by userName, externalId or e-mail (deleted ones
    are gone)."""
    return await USERS.page(
        request,
        session,
        principal,
        filter_text=filter,
        start_index=start_index,
        count=count,
        params=USERS.parameters(attributes, excluded_attributes),
        context=Context.RESOURCE_QUERY_RESPONSE,
    )


@router.post("/Users/.search")
async def search_users(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """The same query as GET /Users, sent as a SearchRequest body (RFC 7644 §3.4.3)."""
    return await USERS.search(request, session, principal)


@router.post("/Users", status_code=201)
async def create_user(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """Create a User: the person is onboarded (enrolled in matching active campaigns) at once."""
    payload = mapping.normalise_resource(await _json_body(request), USERS.url(request))
    user = USERS.validated(payload, Context.RESOURCE_CREATION_REQUEST)
    fields = mapping.person_fields(user, mode="create")
    user_name = fields.pop("user_name")
    await _resolve_department(session, principal, fields)
    try:
        data = PersonCreate(**fields)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc
    person = await people_service.provision_person(
        session, principal, data, user_name=user_name, relink=request.app.state.settings.scim_relink
    )
    return USERS.response(request, person, Context.RESOURCE_CREATION_RESPONSE, status_code=201, location=True)


@router.get("/Users/{user_id}")
async def get_user(
    request: Request,
    user_id: str,
    session: SessionDep,
    principal: ProvisionerDep,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """One User; `If-None-Match` gets 304 while it is unchanged."""
    params = USERS.parameters(attributes, excluded_attributes)
    person = await people_service.get_provisioned_person(session, principal, USERS.id(user_id))
    return USERS.response(request, person, Context.RESOURCE_QUERY_RESPONSE, params=params)


@router.put("/Users/{user_id}")
async def replace_user(
    request: Request, user_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Replace a User; a schema the body leaves out (an extension) keeps what it holds."""
    person_id = USERS.id(user_id)
    payload = mapping.normalise_resource(await _json_body(request), USERS.url(request))
    user = USERS.validated(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    fields = mapping.person_fields(user, mode="replace")
    user_name = fields.pop("user_name", None)
    await _resolve_department(session, principal, fields)
    person = await people_service.update_provisioned_person(
        session, principal, person_id, _update(fields), user_name=user_name, if_match=if_match
    )
    return USERS.response(request, person, Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch("/Users/{user_id}")
async def patch_user(
    request: Request, user_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Apply RFC 7644 PatchOp operations (the Okta and Entra forms included)."""
    current = await people_service.get_provisioned_person(session, principal, USERS.id(user_id))
    raw = await _json_body(request)
    _check_patch_size(raw)
    before = mapping.to_scim(current, USERS.url(request))
    after = USERS.patched(mapping.normalise_patch(raw, USERS.url(request)), before)
    fields = mapping.person_fields(after, mode="patch", before=before)
    if not fields:  # nothing CueCard keeps changed: no new revision, but If-Match still holds
        check_if_match(if_match, etag(current.revision), required=False)
        return USERS.response(request, current, Context.RESOURCE_PATCH_RESPONSE)
    user_name = fields.pop("user_name", None)
    await _resolve_department(session, principal, fields)
    person = await people_service.update_provisioned_person(
        session, principal, current.id, _update(fields), user_name=user_name, if_match=if_match
    )
    return USERS.response(request, person, Context.RESOURCE_PATCH_RESPONSE)


@router.delete("/Users/{user_id}", status_code=204)
async def delete_user(
    request: Request, user_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Delete a User (RFC 7644 §3.6: it answers 404 from now on); the person stays in CueCard,
    inactive, with their history."""
    await groups_service.delete_user(session, principal, USERS.id(user_id), if_match=if_match)
    return Response(status_code=204)


# --- Groups ------------------------------------------------------------------------------


@router.get("/Groups")
async def list_groups(
    request: Request,
    session: SessionDep,
    principal: ProvisionerDep,
    filter: Filter = None,
    start_index: StartIndex = 1,
    count: Count = MAX_RESULTS,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """Groups, oldest first; `filter` finds one by displayName or externalId."""
    return await GROUPS.page(
        request,
        session,
        principal,
        filter_text=filter,
        start_index=start_index,
        count=count,
        params=GROUPS.parameters(attributes, excluded_attributes),
        context=Context.RESOURCE_QUERY_RESPONSE,
    )


@router.post("/Groups/.search")
async def search_groups(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """The same query as GET /Groups, sent as a SearchRequest body."""
    return await GROUPS.search(request, session, principal)


@router.post("/Groups", status_code=201)
async def create_group(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """Create a Group: a department (created when missing) or a role; members move into it."""
    group = GROUPS.validated(await _json_body(request), Context.RESOURCE_CREATION_REQUEST)
    created = await groups_service.create_group(
        session, principal, mapping.group_write(group), role_groups=_role_groups(request)
    )
    return GROUPS.response(
        request, created, Context.RESOURCE_CREATION_RESPONSE, status_code=201, location=True
    )


@router.get("/Groups/{group_id}")
async def get_group(
    request: Request,
    group_id: str,
    session: SessionDep,
    principal: ProvisionerDep,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """One Group with its members; `If-None-Match` gets 304 while it is unchanged."""
    params = GROUPS.parameters(attributes, excluded_attributes)
    group = await groups_service.get_group(session, principal, GROUPS.id(group_id))
    return GROUPS.response(request, group, Context.RESOURCE_QUERY_RESPONSE, params=params)


@router.put("/Groups/{group_id}")
async def replace_group(
    request: Request, group_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Replace a Group: its name and its whole member list."""
    group = GROUPS.validated(await _json_body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
    updated = await groups_service.update_group(
        session,
        principal,
        GROUPS.id(group_id),
        mapping.group_write(group),
        role_groups=_role_groups(request),
        if_match=if_match,
    )
    return GROUPS.response(request, updated, Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch("/Groups/{group_id}")
async def patch_group(
    request: Request, group_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Apply PatchOp operations: members add/remove (Okta group push, Entra), rename."""
    current = await groups_service.get_group(session, principal, GROUPS.id(group_id))
    raw = await _json_body(request)
    _check_patch_size(raw)
    before = mapping.group_to_scim(current, GROUPS.url(request), USERS.url(request))
    after = GROUPS.patched(mapping.normalise_group_patch(raw, str(current.id)), before)
    updated = await groups_service.update_group(
        session,
        principal,
        current.id,
        mapping.group_write(after),
        role_groups=_role_groups(request),
        if_match=if_match,
    )
    return GROUPS.response(request, updated, Context.RESOURCE_PATCH_RESPONSE)


@router.delete("/Groups/{group_id}", status_code=204)
async def delete_group(
    request: Request, group_id: str, session: SessionDep, principal: ProvisionerDep, if_match: IfMatch = None
) -> Response:
    """Delete a Group: its members leave it (department and role re-decided); the department stays."""
    await groups_service.delete_group(session, principal, GROUPS.id(group_id), if_match=if_match)
    return Response(status_code=204)


# --- search across resource types (RFC 7644 §3.4.3, POST /.search at the root) --------------


def _parsed_or_none(parse: Any, text: str | None) -> Any:
    try:
        return parse(text)
    except ScimProblem:
        return None


@router.post("/.search")
async def search_everything(request: Request, session: SessionDep, principal: ProvisionerDep) -> Response:
    """Users, then Groups; a filter applies to the types that have its attribute."""
    payload = await _json_body(request)
    with scim_errors():
        search = SearchRequest[ScimUser | ScimGroup].model_validate(
            payload, scim_ctx=Context.SEARCH_REQUEST, scim_policy=POLICY
        )
    filter_text = payload.get("filter") if isinstance(payload, dict) else None
    user_lookup = _parsed_or_none(parse_filter, filter_text)
    group_lookup = _parsed_or_none(parse_group_filter, filter_text)
    if user_lookup is None and group_lookup is None:
        parse_filter(filter_text)  # raises the invalidFilter error
    start = max(search.start_index or 1, 1)
    limit = min(max(MAX_RESULTS if search.count is None else search.count, 0), MAX_RESULTS)
    resources: list[Any] = []
    users_total = groups_total = 0
    if user_lookup is not None:
        users_total, people = await _fetch_users(session, principal, user_lookup, start - 1, limit)
        resources += [mapping.to_scim(person, _users_url(request)) for person in people]
    if group_lookup is not None:
        groups_total, groups = await _fetch_groups(
            session,
            principal,
            group_lookup,
            max(start - 1 - users_total, 0),
            limit - len(resources) if start - 1 + len(resources) >= users_total else 0,
        )
        resources += [mapping.group_to_scim(g, _groups_url(request), _users_url(request)) for g in groups]
    page = ListResponse[ScimUser | ScimGroup](
        total_results=users_total + groups_total,
        start_index=start,
        items_per_page=len(resources),
        resources=resources,
    )
    params = search if search.attributes or search.excluded_attributes else None
    body = page.model_dump(mode="json", scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params)
    return scim_response(body)
