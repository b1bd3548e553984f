"""Authorization matrix rows for SCIM (merged by tests/test_authorization_matrix.py).

SCIM is for provisioning: admins and service accounts with people:write; every other caller
is refused (403, a SCIM Error), the anonymous one with 401. `user_id` is the context's target
employee; PUT renames them. DELETE makes a User gone for SCIM (a second DELETE is 404), so
each caller deletes a fresh person; likewise each deletes a fresh Group.
"""

from __future__ import annotations

from typing import Any

from service.groups import service as groups_service
from service.groups.schemas import GroupWrite
from tests.factories import OPERATOR, make_person, unique
from tests.matrix import Row, admin_only

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def provision(ok: int) -> dict[str, int]:
    return admin_only(ok, svc_people=ok)


def _new_user(ctx: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [USER], "userName": f"{unique('scim')}@example.com", "displayName": "新人 花子"}


_SEARCH = {"schemas": [SEARCH], "filter": 'userName eq "nobody@example.com"'}
_GROUP_SEARCH = {"schemas": [SEARCH], "filter": 'displayName eq "nobody"'}


def _new_group(ctx: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [GROUP], "displayName": unique("チーム"), "members": [{"value": ctx["person_id"]}]}


async def _group(app: Any) -> str:
    async with app.state.sessionmaker() as session:
        group = await groups_service.create_group(
            session, OPERATOR, GroupWrite(display_name=unique("group")), role_groups={}
        )
    return str(group.id)


async def _fresh_user(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"user_id": str((await make_person(app)).id)}


async def _fresh_group(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"group_id": await _group(app)}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/scim/v2/ServiceProviderConfig"): Row(provision(200)),
    ("GET", "/scim/v2/ResourceTypes"): Row(provision(200)),
    ("GET", "/scim/v2/ResourceTypes/{resource_type_id}"): Row(provision(200)),
    ("GET", "/scim/v2/Schemas"): Row(provision(200)),
    ("GET", "/scim/v2/Schemas/{schema_id}"): Row(provision(200)),
    ("GET", "/scim/v2/Users"): Row(provision(200)),
    ("POST", "/scim/v2/Users"): Row(provision(201), body=_new_user),
    ("POST", "/scim/v2/Users/.search"): Row(provision(200), body=lambda ctx: _SEARCH),
    ("POST", "/scim/v2/.search"): Row(provision(200), body=lambda ctx: _SEARCH),
    ("GET", "/scim/v2/Users/{user_id}"): Row(provision(200)),
    ("PUT", "/scim/v2/Users/{user_id}"): Row(provision(200), body=_new_user),
    ("PATCH", "/scim/v2/Users/{user_id}"): Row(
        provision(200),
        body=lambda ctx: {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "改名 済み"}],
        },
    ),
    ("DELETE", "/scim/v2/Users/{user_id}"): Row(provision(204), prepare=_fresh_user),
    ("GET", "/scim/v2/Groups"): Row(provision(200)),
    ("POST", "/scim/v2/Groups"): Row(provision(201), body=_new_group),
    ("POST", "/scim/v2/Groups/.search"): Row(provision(200), body=lambda ctx: _GROUP_SEARCH),
    ("GET", "/scim/v2/Groups/{group_id}"): Row(provision(200)),
    ("PUT", "/scim/v2/Groups/{group_id}"): Row(provision(200), body=_new_group),
    ("PATCH", "/scim/v2/Groups/{group_id}"): Row(
        provision(200),
        body=lambda ctx: {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ctx["person_id"]}]}],
        },
    ),
    ("DELETE", "/scim/v2/Groups/{group_id}"): Row(provision(204), prepare=_fresh_group),
}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """Extra path parameters and objects the rows above need (merged into the shared context)."""
    return {
        "user_id": ctx["person_id"],
        "group_id": await _group(app),
        "resource_type_id": "User",
        "schema_id": USER,
    }
