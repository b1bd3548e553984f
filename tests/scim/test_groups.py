"""SCIM Groups over real HTTP: groups stand for departments or roles, and joining or leaving
one moves people (re-deciding their campaigns in the same transaction). Also the two flows
identity providers run end to end: Okta (group push) and Microsoft Entra."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service.config import Settings
from tests.factories import (
    bearer,
    make_department,
    make_person,
    token_for,
)
from tests.scim.conftest import (
    BASE,
    SCIM_JSON,
    USER,
    assert_scim_error,
    make_onboarding,
    patch_body,
    scim_settings,
)

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def person_body(user_name: str, email: str, **extra: object) -> dict:
    return {"schemas": [USER], "userName": user_name, "emails": [{"value": email, "type": "work"}], **extra}


async def new_user(client, hr, user_name: str, email: str | None = None, **extra: object) -> dict:
    body = person_body(user_name, email or f"{uuid.uuid4().hex[:10]}@example.com", **extra)
    response = await client.post(f"{BASE}/Users", json=body, headers=hr)
    assert response.status_code == 201, response.text
    return response.json()


async def new_group(client, hr, name: str, *members: dict) -> dict:
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m["id"]} for m in members]}
    response = await client.post(f"{BASE}/Groups", json=body, headers=hr)
    assert response.status_code == 201, response.text
    return response.json()


async def department_of(client, hr, user: dict) -> str | None:
    found = (await client.get(f"{BASE}/Users/{user['id']}", headers=hr)).json()
    return found.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", {}).get("department")


async def role_of(client, hr, user: dict) -> str:
    found = (await client.get(f"{BASE}/Users/{user['id']}", headers=hr)).json()
    return found["urn:cuecard:params:scim:schemas:extension:2.0:User"]["role"]


def members(group: dict) -> set[str]:
    return {m["value"] for m in group.get("members", [])}


async def test_a_group_is_a_department_and_its_members_move_into_it(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    hanako = await new_user(client, hr, "hanako", displayName="山田 花子")

    response = await client.post(
        f"{BASE}/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "営業部",
            "externalId": "okta-g1",
            "members": [{"value": hanako["id"]}],
        },
        headers=hr,
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    group = response.json()
    assert response.headers["location"] == group["meta"]["location"] == f"{BASE}/Groups/{group['id']}"
    assert response.headers["etag"] == group["meta"]["version"]
    assert group["meta"]["resourceType"] == "Group"
    assert group["members"] == [
        {"value": hanako["id"], "$ref": f"{BASE}/Users/{hanako['id']}", "type": "User"}
    ]
    assert await department_of(client, hr, hanako) == "sales"  # matched by name

    # display (the User's display name) comes when asked for.
    shown = (
        await client.get(f"{BASE}/Groups/{group['id']}", params={"attributes": "members.display"}, headers=hr)
    ).json()
    assert shown["members"][0]["display"] == "山田 花子"
    listed = (
        await client.get(f"{BASE}/Groups", params={"filter": 'displayName eq "営業部"'}, headers=hr)
    ).json()
    assert [g["id"] for g in listed["Resources"]] == [group["id"]]
    listed = (
        await client.get(f"{BASE}/Groups", params={"filter": 'externalId eq "okta-g1"'}, headers=hr)
    ).json()
    assert listed["totalResults"] == 1
    paged = (await client.get(f"{BASE}/Groups", params={"startIndex": 2, "count": 5}, headers=hr)).json()
    assert paged["totalResults"] == 1 and paged.get("Resources", []) == []

    # A name no department has creates one.
    created = await new_group(client, hr, "Field Marketing", hanako)
    assert await department_of(client, hr, hanako) == "field-marketing"
    admin = await make_person(app, role="admin")
    departments = (await client.get("/api/v1/departments", headers=bearer(token_for(app, admin)))).json()
    assert {"field-marketing", "sales"} <= {d["key"] for d in departments["items"]}
    assert created["displayName"] == "Field Marketing"


async def test_the_most_recent_department_group_wins_and_leaving_falls_back(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="Customer Support")
    hanako = await new_user(client, hr, "hanako.w")
    sales = await new_group(client, hr, "sales", hanako)
    support = await new_group(client, hr, "Customer Support")
    add = patch_body({"op": "add", "path": "members", "value": [{"value": hanako["id"]}]})
    assert (await client.patch(f"{BASE}/Groups/{support['id']}", json=add, headers=hr)).status_code == 200
    assert await department_of(client, hr, hanako) == "support"  # added last

    # Leaving a group that is not the current department changes nothing ...
    remove = patch_body({"op": "remove", "path": f'members[value eq "{hanako["id"]}"]'})
    assert (await client.patch(f"{BASE}/Groups/{sales['id']}", json=remove, headers=hr)).status_code == 200
    assert await department_of(client, hr, hanako) == "support"
    # ... re-joining makes it the most recent again; leaving it falls back to the other one.
    assert (await client.patch(f"{BASE}/Groups/{sales['id']}", json=add, headers=hr)).status_code == 200
    assert await department_of(client, hr, hanako) == "sales"
    response = await client.patch(f"{BASE}/Groups/{sales['id']}", json=remove, headers=hr)
    assert members(response.json()) == set()
    assert await department_of(client, hr, hanako) == "support"
    # Deleting the group of the current department leaves no department; the department stays.
    assert (await client.delete(f"{BASE}/Groups/{support['id']}", headers=hr)).status_code == 204
    assert await department_of(client, hr, hanako) is None
    assert_scim_error(await client.get(f"{BASE}/Groups/{support['id']}", headers=hr), 404)
    admin = await make_person(app, role="admin")
    departments = (await client.get("/api/v1/departments", headers=bearer(token_for(app, admin)))).json()
    assert "support" in {d["key"] for d in departments["items"]}


async def test_role_groups_give_the_highest_role_and_leaving_them_all_makes_an_employee(app, client, hr):
    with scim_settings(app, scim_role_groups="CueCard Editors=editor,CueCard Admins=admin"):
        taro = await new_user(client, hr, "taro")
        editors = await new_group(client, hr, "CueCard Editors", taro)
        assert await role_of(client, hr, taro) == "editor"
        admins = await new_group(client, hr, "cuecard admins", taro)  # names match ignoring case
        assert await role_of(client, hr, taro) == "admin"
        remove = patch_body({"op": "remove", "path": f'members[value eq "{taro["id"]}"]'})
        await client.patch(f"{BASE}/Groups/{admins['id']}", json=remove, headers=hr)
        assert await role_of(client, hr, taro) == "editor"
        await client.patch(f"{BASE}/Groups/{editors['id']}", json=remove, headers=hr)
        assert await role_of(client, hr, taro) == "employee"
        assert await department_of(client, hr, taro) is None  # a role group is no department

        # A role set by other means since the group gave one is left alone on leaving.
        await client.patch(
            f"{BASE}/Groups/{editors['id']}",
            json=patch_body({"op": "add", "path": "members", "value": [{"value": taro["id"]}]}),
            headers=hr,
        )
        role = {
            "op": "replace",
            "path": "urn:cuecard:params:scim:schemas:extension:2.0:User:role",
            "value": "manager",
        }
        await client.patch(f"{BASE}/Users/{taro['id']}", json=patch_body(role), headers=hr)
        await client.patch(f"{BASE}/Groups/{editors['id']}", json=remove, headers=hr)
        assert await role_of(client, hr, taro) == "manager"


async def test_joining_a_department_group_enrolls_in_its_campaign_in_the_same_change(app, client, hr):
    onboarding = await make_onboarding(app)
    start = datetime.now(UTC).date().isoformat()
    hanako = await new_user(
        client,
        hr,
        "hanako.c",
        schemas=[USER, "urn:cuecard:params:scim:schemas:extension:2.0:User"],
        **{"urn:cuecard:params:scim:schemas:extension:2.0:User": {"hireDate": start}},
    )

    async def enrollment():
        return (await onboarding.enrollments()).get(uuid.UUID(hanako["id"]))

    assert await enrollment() is None
    group = await new_group(client, hr, "営業部", hanako)
    assert (await enrollment()).left_at is None
    await client.patch(
        f"{BASE}/Groups/{group['id']}",
        json=patch_body({"op": "remove", "path": f'members[value eq "{hanako["id"]}"]'}),
        headers=hr,
    )
    assert (await enrollment()).left_at is not None  # kept as history


async def test_bad_group_requests_are_refused_and_nothing_is_half_applied(app, client, hr):
    hanako = await new_user(client, hr, "hanako.b")
    group = await new_group(client, hr, "Product Marketing", hanako)
    url = f"{BASE}/Groups/{group['id']}"
    stranger = str(uuid.uuid4())
    add = patch_body(
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members", "value": [{"value": stranger}]},
    )
    assert_scim_error(await client.patch(url, json=add, headers=hr), 400, "invalidValue")
    assert (await client.get(url, headers=hr)).json()["displayName"] == "Product Marketing"
    body = {"schemas": [GROUP], "displayName": "product marketing"}
    assert_scim_error(await client.post(f"{BASE}/Groups", json=body, headers=hr), 409, "uniqueness")
    assert_scim_error(await client.post(f"{BASE}/Groups", json={"schemas": [GROUP]}, headers=hr), 400)
    nested = {
        "schemas": [GROUP],
        "displayName": "Nested",
        "members": [{"value": group["id"], "type": "Group"}],
    }
    assert_scim_error(await client.post(f"{BASE}/Groups", json=nested, headers=hr), 400, "invalidValue")
    stale = {**hr, "If-Match": '"v0"'}
    assert_scim_error(
        await client.put(url, json={"schemas": [GROUP], "displayName": "X"}, headers=stale), 412
    )
    assert_scim_error(await client.delete(url, headers=stale), 412)
    assert_scim_error(
        await client.get(f"{BASE}/Groups", params={"filter": 'displayName co "x"'}, headers=hr),
        400,
        "invalidFilter",
    )


async def test_okta_flow_non_email_username_group_push_deactivate_delete(app, client, hr):
    # Okta: the username is not an e-mail; the address comes in `emails`.
    user = await new_user(
        client,
        hr,
        "hanako.yamada",
        "hanako.yamada@hoshino.example",
        name={"givenName": "花子", "familyName": "山田"},
    )
    assert user["userName"] == "hanako.yamada"
    assert user["emails"] == [{"value": "hanako.yamada@hoshino.example", "type": "work"}]
    found = (
        await client.get(f"{BASE}/Users", params={"filter": 'userName eq "Hanako.Yamada"'}, headers=hr)
    ).json()
    assert [u["id"] for u in found["Resources"]] == [user["id"]]  # caseExact false

    # Group push: create empty, add members, rename with Okta's path-less replace, remove.
    group = await new_group(client, hr, "Okta Sales Engineering")
    url = f"{BASE}/Groups/{group['id']}"
    add = patch_body(
        {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "hanako.yamada"}]}
    )
    response = await client.patch(url, json=add, headers=hr)
    assert response.status_code == 200, response.text
    assert members(response.json()) == {user["id"]}
    assert await department_of(client, hr, user) == "okta-sales-engineering"
    rename = patch_body({"op": "replace", "value": {"id": group["id"], "displayName": "営業技術部"}})
    response = await client.patch(url, json=rename, headers=hr)
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "営業技術部"
    moved = await department_of(client, hr, user)
    assert moved not in (None, "okta-sales-engineering")  # a new department for the new name
    remove = patch_body({"op": "remove", "path": f'members[value eq "{user["id"]}"]'})
    assert members((await client.patch(url, json=remove, headers=hr)).json()) == set()
    assert await department_of(client, hr, user) is None
    await client.patch(url, json=add, headers=hr)

    # Deactivate (Okta's path-less replace), then DELETE: gone for SCIM, history kept.
    deactivate = patch_body({"op": "replace", "value": {"active": False}})
    response = await client.patch(f"{BASE}/Users/{user['id']}", json=deactivate, headers=hr)
    assert response.json()["active"] is False
    assert (await client.delete(f"{BASE}/Users/{user['id']}", headers=hr)).status_code == 204
    assert_scim_error(await client.get(f"{BASE}/Users/{user['id']}", headers=hr), 404)
    assert members((await client.get(url, headers=hr)).json()) == set()  # out of every group
    gone = (
        await client.get(f"{BASE}/Users", params={"filter": 'userName eq "hanako.yamada"'}, headers=hr)
    ).json()
    assert gone["totalResults"] == 0
    admin = await make_person(app, role="admin")
    person = (await client.get(f"/api/v1/people/{user['id']}", headers=bearer(token_for(app, admin)))).json()
    assert person["active"] is False and person["email"] == "hanako.yamada@hoshino.example"


async def test_entra_flow_user_principal_name_and_capitalised_group_ops(app, client, hr):
    # Entra: userPrincipalName as userName, `mail` as the (primary) work e-mail.
    body = person_body("hyamada@contoso.onmicrosoft.com", "Hanako.Yamada@contoso.example")
    body["emails"][0]["primary"] = True
    body["emails"].append({"value": "hanako@home.example", "type": "home"})
    created = await client.post(f"{BASE}/Users", json=body, headers=hr)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["userName"] == "hyamada@contoso.onmicrosoft.com"
    assert user["emails"] == [{"value": "hanako.yamada@contoso.example", "type": "work"}]
    lookup = {"filter": 'userName eq "HYamada@Contoso.onmicrosoft.com"'}
    assert (await client.get(f"{BASE}/Users", params=lookup, headers=hr)).json()["totalResults"] == 1
    # The UPN is taken, as is the e-mail, whoever asks.
    again = person_body("HYAMADA@contoso.onmicrosoft.com", "other@contoso.example")
    assert_scim_error(await client.post(f"{BASE}/Users", json=again, headers=hr), 409, "uniqueness")
    again = person_body("someone.else", "hanako.yamada@contoso.example")
    assert_scim_error(await client.post(f"{BASE}/Users", json=again, headers=hr), 409, "uniqueness")

    # A UPN change (PATCH Replace userName) keeps the e-mail; a mail change keeps the UPN.
    upn = patch_body({"op": "Replace", "path": "userName", "value": "hanako.yamada@contoso.onmicrosoft.com"})
    response = await client.patch(f"{BASE}/Users/{user['id']}", json=upn, headers=hr)
    assert response.json()["userName"] == "hanako.yamada@contoso.onmicrosoft.com"
    assert response.json()["emails"][0]["value"] == "hanako.yamada@contoso.example"

    other = await new_user(client, hr, "taro@contoso.onmicrosoft.com")
    group = await new_group(client, hr, "Contoso Sales")
    url = f"{BASE}/Groups/{group['id']}"
    add = patch_body(
        {"op": "Add", "path": "members", "value": [{"value": user["id"]}, {"value": other["id"]}]}
    )
    assert members((await client.patch(url, json=add, headers=hr)).json()) == {user["id"], other["id"]}
    remove = patch_body({"op": "Remove", "path": f'members[value eq "{other["id"]}"]'})
    assert members((await client.patch(url, json=remove, headers=hr)).json()) == {user["id"]}
    remove = patch_body({"op": "Remove", "path": "members", "value": [{"value": user["id"]}]})
    assert members((await client.patch(url, json=remove, headers=hr)).json()) == set()
    # Entra reads groups without their members.
    listed = (
        await client.get(
            f"{BASE}/Groups",
            params={"filter": 'displayName eq "Contoso Sales"', "excludedAttributes": "members"},
            headers=hr,
        )
    ).json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


async def test_user_names_and_emails_stay_unique_and_an_email_is_needed(client, hr):
    hanako = await new_user(client, hr, "Hanako", "hanako@hoshino-scim.example")
    taro = await new_user(client, hr, "taro", "taro@hoshino-scim.example")
    url = f"{BASE}/Users/{taro['id']}"

    no_email = {"schemas": [USER], "userName": "no-address"}
    body = assert_scim_error(
        await client.post(f"{BASE}/Users", json=no_email, headers=hr), 400, "invalidValue"
    )
    assert "e-mail" in body["detail"]
    # A userName that is an address stands in when `emails` has none.
    fallback = await client.post(
        f"{BASE}/Users", json={"schemas": [USER], "userName": "Jiro@Hoshino-SCIM.example"}, headers=hr
    )
    assert fallback.json()["emails"] == [{"value": "jiro@hoshino-scim.example", "type": "work"}]
    # Without a primary, the first work address wins over a home one.
    mixed = person_body("saburo", "saburo.home@example.com")
    mixed["emails"] = [
        {"value": "saburo.home@example.com", "type": "home"},
        {"value": "saburo@hoshino-scim.example", "type": "work"},
    ]
    assert (await client.post(f"{BASE}/Users", json=mixed, headers=hr)).json()["emails"][0][
        "value"
    ] == "saburo@hoshino-scim.example"

    taken = patch_body({"op": "replace", "path": "userName", "value": "HANAKO"})
    assert_scim_error(await client.patch(url, json=taken, headers=hr), 409, "uniqueness")
    put = person_body("taro", hanako["emails"][0]["value"])
    assert_scim_error(await client.put(url, json=put, headers=hr), 409, "uniqueness")
    renamed = await client.put(
        url, json=person_body("taro.yamada", "taro.yamada@hoshino-scim.example"), headers=hr
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["userName"] == "taro.yamada"
    assert renamed.json()["emails"] == [{"value": "taro.yamada@hoshino-scim.example", "type": "work"}]


def test_role_group_settings_name_real_roles():
    assert Settings(scim_role_groups="CueCard Editors=editor, Admins = admin").scim_role_group_map == {
        "cuecard editors": "editor",
        "admins": "admin",
    }
    with pytest.raises(ValidationError):
        Settings(scim_role_groups="Bosses=boss")
