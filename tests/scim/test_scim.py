"""SCIM 2.0 Users over real HTTP (the ASGI app) with real tokens: what HR systems, Okta and
Microsoft Entra send, what they get back, and what is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.factories import (
    bearer,
    make_department,
    make_person,
    service_token,
    token_for,
)
from tests.scim.conftest import (
    BASE,
    CUECARD,
    ENTERPRISE,
    SCIM_JSON,
    USER,
    assert_scim_error,
    make_onboarding,
    patch_body,
    scim_settings,
    user_body,
)

ALL_SCHEMAS = [USER, ENTERPRISE, CUECARD]
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def hire(email: str = "hanako.yamada@hoshino.example", **overrides: object) -> dict:
    """What an HR system sends for a new hire (Japanese name, family name first)."""
    body = {
        "schemas": ALL_SCHEMAS,
        "userName": email,
        "externalId": "WD-10045",
        "name": {"familyName": "山田", "givenName": "花子"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "preferredLanguage": "ja",
        "active": True,
        ENTERPRISE: {"employeeNumber": "10045", "department": "sales"},
        CUECARD: {"hireDate": "2026-12-01", "role": "employee"},
    }
    body.update(overrides)
    return body


async def create(client, hr, body: dict) -> dict:
    response = await client.post(f"{BASE}/Users", json=body, headers=hr)
    assert response.status_code == 201, response.text
    return response.json()


# --- create, read, list ------------------------------------------------------------------


async def test_create_answers_201_with_location_etag_and_the_mapped_user(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    response = await client.post(f"{BASE}/Users", json=hire("Hanako.Yamada@Hoshino.example"), headers=hr)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    user = response.json()
    assert response.headers["location"] == f"{BASE}/Users/{user['id']}"  # no CUECARD_PUBLIC_URL
    assert response.headers["etag"] == user["meta"]["version"] == '"v1"'
    assert user["meta"]["location"] == response.headers["location"]
    assert user["meta"]["resourceType"] == "User"
    assert user["userName"] == "Hanako.Yamada@Hoshino.example"  # stored as sent, unique ignoring case
    assert user["displayName"] == "山田 花子"  # family name first for Japanese names
    assert user["name"] == {"familyName": "山田", "givenName": "花子"}
    assert user["emails"] == [{"value": "hanako.yamada@hoshino.example", "type": "work"}]
    assert user["externalId"] == "WD-10045"
    assert user["preferredLanguage"] == user["locale"] == "ja"
    assert user["active"] is True
    assert user[ENTERPRISE] == {"employeeNumber": "10045", "department": "sales"}
    assert user[CUECARD] == {"hireDate": "2026-12-01", "role": "employee"}
    assert set(user["schemas"]) == set(ALL_SCHEMAS)

    # The same person through the REST API: one record, whatever the door.
    admin = await make_person(app, role="admin")
    person = (await client.get(f"/api/v1/people/{user['id']}", headers=bearer(token_for(app, admin)))).json()
    assert person["email"] == "hanako.yamada@hoshino.example"
    assert person["display_name"] == "山田 花子"
    assert person["department_key"] == "sales"
    assert person["hire_date"] == "2026-12-01"
    assert person["external_id"] == "WD-10045"
    assert person["employee_number"] == "10045"


async def test_western_names_are_given_name_first_and_display_name_wins(client, hr):
    user = await create(
        client, hr, user_body("bjensen@example.com", name={"givenName": "Barbara", "familyName": "Jensen"})
    )
    assert user["displayName"] == "Barbara Jensen"
    assert user["name"] == {"givenName": "Barbara", "familyName": "Jensen"}

    user = await create(
        client, hr, user_body("babs@example.com", displayName="Babs J", name={"givenName": "B"})
    )
    assert user["displayName"] == "Babs J"

    user = await create(client, hr, user_body("anon@example.com"))
    assert user["displayName"] == "anon"  # nothing given: the e-mail's local part


async def test_department_is_matched_by_key_or_by_name(app, client, hr):
    await make_department(app, key="hr", name="人事部")
    by_key = await create(
        client,
        hr,
        user_body("a@example.com", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"department": "hr"}}),
    )
    by_name = await create(
        client,
        hr,
        user_body("b@example.com", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"department": "人事部"}}),
    )
    assert by_key[ENTERPRISE]["department"] == by_name[ENTERPRISE]["department"] == "hr"

    response = await client.post(
        f"{BASE}/Users",
        json=user_body("c@example.com", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"department": "経理部"}}),
        headers=hr,
    )
    body = assert_scim_error(response, 400, "invalidValue")
    assert "経理部" in body["detail"]


async def test_hire_date_and_role_through_the_cuecard_extension(client, hr):
    user = await create(
        client,
        hr,
        user_body(
            "e@example.com",
            schemas=[USER, CUECARD],
            **{CUECARD: {"hireDate": "2027-04-01", "role": "editor"}},
        ),
    )
    assert user[CUECARD] == {"hireDate": "2027-04-01", "role": "editor"}

    response = await client.post(
        f"{BASE}/Users",
        json=user_body("f@example.com", schemas=[USER, CUECARD], **{CUECARD: {"role": "owner"}}),
        headers=hr,
    )
    assert_scim_error(response, 400, "invalidValue")
    response = await client.post(
        f"{BASE}/Users",
        json=user_body("g@example.com", schemas=[USER, CUECARD], **{CUECARD: {"hireDate": "April"}}),
        headers=hr,
    )
    assert_scim_error(response, 400, "invalidValue")


async def test_get_by_id_with_etag_and_304(client, hr):
    created = await create(client, hr, user_body("get@example.com"))
    response = await client.get(f"{BASE}/Users/{created['id']}", headers=hr)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert response.json()["userName"] == "get@example.com"
    tag = response.headers["etag"]

    unchanged = await client.get(f"{BASE}/Users/{created['id']}", headers={**hr, "If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    stale = await client.get(f"{BASE}/Users/{created['id']}", headers={**hr, "If-None-Match": '"v0"'})
    assert stale.status_code == 200


async def test_filters_find_by_user_name_external_id_and_email(client, hr):
    first = await create(client, hr, user_body("Taro@Example.com", externalId="HR-1"))
    await create(client, hr, user_body("jiro@example.com", externalId="HR-2"))

    for query in (
        'userName eq "taro@example.com"',
        'USERNAME EQ "TARO@EXAMPLE.COM"',
        'externalId eq "HR-1"',
        'emails.value eq "taro@example.com"',
        f'{USER}:userName eq "taro@example.com"',
    ):
        response = await client.get(f"{BASE}/Users", params={"filter": query}, headers=hr)
        assert response.status_code == 200, (query, response.text)
        page = response.json()
        assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert page["totalResults"] == 1, query
        assert [u["id"] for u in page["Resources"]] == [first["id"]]

    none = (
        await client.get(f"{BASE}/Users", params={"filter": 'userName eq "nobody@example.com"'}, headers=hr)
    ).json()
    assert none["totalResults"] == 0 and none.get("Resources", []) == []

    for unsupported in (
        'displayName eq "x"',
        'userName sw "t"',
        'userName eq "a" or userName eq "b"',
        "userName eq",
    ):
        response = await client.get(f"{BASE}/Users", params={"filter": unsupported}, headers=hr)
        assert_scim_error(response, 400, "invalidFilter")


async def test_paging_by_start_index_and_count_with_total_results(client, hr):
    ids = [(await create(client, hr, user_body(f"p{i}@example.com")))["id"] for i in range(5)]

    page = (await client.get(f"{BASE}/Users", params={"startIndex": 2, "count": 2}, headers=hr)).json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [u["id"] for u in page["Resources"]] == ids[1:3]

    last = (await client.get(f"{BASE}/Users", params={"startIndex": 5, "count": 10}, headers=hr)).json()
    assert [u["id"] for u in last["Resources"]] == ids[4:]
    counted = (await client.get(f"{BASE}/Users", params={"count": 0}, headers=hr)).json()
    assert counted["totalResults"] == 5 and not counted.get("Resources")
    everyone = (await client.get(f"{BASE}/Users", params={"startIndex": 0}, headers=hr)).json()
    assert [u["id"] for u in everyone["Resources"]] == ids

    search = await client.post(
        f"{BASE}/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "p3@example.com"',
            "attributes": ["userName"],
        },
        headers=hr,
    )
    assert search.status_code == 200, search.text
    found = search.json()["Resources"]
    assert [u["userName"] for u in found] == ["p3@example.com"] and "displayName" not in found[0]


# --- replace and patch -------------------------------------------------------------------


async def test_put_replaces_the_user(app, client, hr):
    await make_department(app, key="dev", name="開発部")
    created = await create(client, hr, hire("put@example.com", **{ENTERPRISE: {"employeeNumber": "1"}}))
    body = {
        "schemas": [USER, ENTERPRISE],
        "userName": "put.renamed@example.com",
        "displayName": "山田 花子(開発)",
        "active": True,
        ENTERPRISE: {"department": "開発部"},
    }
    response = await client.put(f"{BASE}/Users/{created['id']}", json=body, headers=hr)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["userName"] == "put.renamed@example.com"
    assert user["displayName"] == "山田 花子(開発)"
    assert user[ENTERPRISE] == {"department": "dev"}  # employeeNumber cleared by the replace
    assert user[CUECARD] == {"hireDate": "2026-12-01", "role": "employee"}  # extension not sent: kept
    assert "externalId" not in user  # cleared by the replace
    assert response.headers["etag"] == '"v2"'


async def test_okta_deactivates_with_a_path_less_replace(client, hr):
    created = await create(client, hr, user_body("okta@example.com"))
    response = await client.patch(
        f"{BASE}/Users/{created['id']}",
        json=patch_body({"op": "replace", "value": {"active": False}}),
        headers=hr,
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    again = await client.get(f"{BASE}/Users/{created['id']}", headers=hr)
    assert again.json()["active"] is False


async def test_entra_patch_forms(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="Customer Support")
    manager = await create(client, hr, user_body("boss@example.com", displayName="上司 一郎"))
    created = await create(client, hr, hire("entra@example.com"))
    url = f"{BASE}/Users/{created['id']}"

    response = await client.patch(
        url,
        json=patch_body(
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "entra.new@example.com"},
            {"op": "Replace", "path": "name.givenName", "value": "華子"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "customer support"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]},
            {"op": "Replace", "path": "externalId", "value": "AAD-42"},
        ),
        headers=hr,
    )
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["active"] is False
    assert user["userName"] == "entra@example.com"  # userName is its own attribute
    assert user["emails"] == [{"value": "entra.new@example.com", "type": "work"}]  # the work e-mail
    assert user["displayName"] == "山田 華子"
    assert user["externalId"] == "AAD-42"
    assert user[ENTERPRISE]["department"] == "support"
    assert user[ENTERPRISE]["manager"] == {
        "value": manager["id"],
        "$ref": f"{BASE}/Users/{manager['id']}",
    }

    # Manager as {"value": id}, Entra's "True", add/remove of enterprise and CueCard attributes.
    response = await client.patch(
        url,
        json=patch_body(
            {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": manager["id"]}},
            {"op": "Replace", "path": "active", "value": "True"},
            {"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"},
            {"op": "add", "path": f"{CUECARD}:hireDate", "value": "2027-01-05"},
            {"op": "replace", "path": f"{CUECARD}:role", "value": "manager"},
            {"op": "replace", "path": "displayName", "value": "Hanako Yamada"},
        ),
        headers=hr,
    )
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["active"] is True
    assert "employeeNumber" not in user[ENTERPRISE]
    assert user[CUECARD] == {"hireDate": "2027-01-05", "role": "manager"}
    assert user["displayName"] == "Hanako Yamada"
    assert user["name"] == {"givenName": "Hanako", "familyName": "Yamada"}

    response = await client.patch(
        url, json=patch_body({"op": "remove", "path": f"{ENTERPRISE}:manager"}), headers=hr
    )
    assert "manager" not in response.json()[ENTERPRISE]


async def test_patch_refuses_what_it_cannot_apply(client, hr):
    created = await create(client, hr, user_body("bad.patch@example.com"))
    url = f"{BASE}/Users/{created['id']}"
    cases = [
        ({"op": "move", "path": "displayName", "value": "x"}, "invalidValue"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "id", "value": str(uuid.uuid4())}, "mutability"),
        ({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": "not-a-user"}, "invalidValue"),
        ({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": str(uuid.uuid4())}, "invalidValue"),
        ({"op": "replace", "path": f"{ENTERPRISE}:department", "value": "no-such-team"}, "invalidValue"),
    ]
    for operation, scim_type in cases:
        response = await client.patch(url, json=patch_body(operation), headers=hr)
        assert_scim_error(response, 400, scim_type)
    # userName may be anything, but a User without any e-mail address is refused.
    response = await client.patch(
        url, json=patch_body({"op": "replace", "path": "userName", "value": "not-an-email"}), headers=hr
    )
    assert response.status_code == 200, response.text
    response = await client.patch(url, json=patch_body({"op": "remove", "path": "emails"}), headers=hr)
    body = assert_scim_error(response, 400, "invalidValue")
    assert "e-mail" in body["detail"]
    response = await client.put(url, json=user_body("not-an-email"), headers=hr)
    assert_scim_error(response, 400, "invalidValue")
    user = (await client.get(url, headers=hr)).json()
    assert user["emails"][0]["value"] == "bad.patch@example.com"  # nothing half-applied
    response = await client.patch(url, json={"Operations": "nope"}, headers=hr)
    assert_scim_error(response, 400)


# --- delete keeps history ----------------------------------------------------------------


async def test_delete_is_gone_for_scim_and_keeps_the_person_and_their_data(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    created = await create(client, hr, hire("leaver@example.com"))
    url = f"{BASE}/Users/{created['id']}"

    response = await client.delete(url, headers=hr)
    assert response.status_code == 204
    assert response.content == b""

    # RFC 7644 §3.6: the resource is gone for SCIM, whatever the method.
    assert_scim_error(await client.get(url, headers=hr), 404)
    assert_scim_error(await client.put(url, json=hire("leaver@example.com"), headers=hr), 404)
    assert_scim_error(
        await client.patch(
            url, json=patch_body({"op": "replace", "path": "active", "value": True}), headers=hr
        ),
        404,
    )
    assert_scim_error(await client.delete(url, headers=hr), 404)
    for lookup in ('userName eq "leaver@example.com"', 'externalId eq "WD-10045"', None):
        params = {"filter": lookup} if lookup else {}
        listed = (await client.get(f"{BASE}/Users", params=params, headers=hr)).json()
        assert created["id"] not in {u["id"] for u in listed.get("Resources", [])}

    # CueCard keeps the person, inactive, with their record.
    admin = await make_person(app, role="admin")
    person = (
        await client.get(f"/api/v1/people/{created['id']}", headers=bearer(token_for(app, admin)))
    ).json()
    assert person["active"] is False and person["employee_number"] == "10045"
    assert person["department_key"] == "sales"

    # The same userName or e-mail cannot be provisioned again (the history is that person's).
    response = await client.post(f"{BASE}/Users", json=hire("leaver@example.com"), headers=hr)
    assert_scim_error(response, 409, "uniqueness")
    other_name = hire("leaver@example.com", userName="leaver-again")
    assert_scim_error(await client.post(f"{BASE}/Users", json=other_name, headers=hr), 409, "uniqueness")


async def test_relink_gives_a_deleted_person_a_fresh_scim_identity(app, client, hr):
    with scim_settings(app, scim_relink=True):
        await _relink(app, client, hr)


async def _relink(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    created = await create(client, hr, hire("returner@example.com"))
    assert (await client.delete(f"{BASE}/Users/{created['id']}", headers=hr)).status_code == 204

    body = hire("returner@example.com", userName="returner", externalId="WD-20001")
    response = await client.post(f"{BASE}/Users", json=body, headers=hr)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["id"] == created["id"]  # the same person, so the same history
    assert user["userName"] == "returner" and user["active"] is True and user["externalId"] == "WD-20001"
    assert (await client.get(f"{BASE}/Users/{created['id']}", headers=hr)).status_code == 200
    # A live User is never relinked.
    assert_scim_error(await client.post(f"{BASE}/Users", json=body, headers=hr), 409, "uniqueness")


# --- concurrency -------------------------------------------------------------------------


async def test_stale_if_match_gets_412_on_put_patch_and_delete(client, hr):
    created = await create(client, hr, user_body("etag@example.com"))
    url = f"{BASE}/Users/{created['id']}"
    stale = {**hr, "If-Match": '"v0"'}

    assert_scim_error(await client.put(url, json=user_body("etag@example.com"), headers=stale), 412)
    assert_scim_error(
        await client.patch(
            url, json=patch_body({"op": "replace", "path": "displayName", "value": "x"}), headers=stale
        ),
        412,
    )
    assert_scim_error(
        await client.patch(
            url, json=patch_body({"op": "replace", "path": "title", "value": "x"}), headers=stale
        ),
        412,
    )
    assert_scim_error(await client.delete(url, headers=stale), 412)
    assert (await client.get(url, headers=hr)).json()["active"] is True

    current = {**hr, "If-Match": created["meta"]["version"]}
    response = await client.patch(
        url, json=patch_body({"op": "replace", "path": "displayName", "value": "新 名前"}), headers=current
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"v2"'


async def test_duplicate_user_name_is_409_uniqueness(client, hr):
    await create(client, hr, user_body("dup@example.com"))
    response = await client.post(f"{BASE}/Users", json=user_body("DUP@example.com"), headers=hr)
    assert_scim_error(response, 409, "uniqueness")

    other = await create(client, hr, user_body("other@example.com"))
    response = await client.patch(
        f"{BASE}/Users/{other['id']}",
        json=patch_body({"op": "replace", "path": "userName", "value": "dup@example.com"}),
        headers=hr,
    )
    assert_scim_error(response, 409, "uniqueness")


# --- onboarding by HR push ---------------------------------------------------------------


async def test_a_new_hire_pushed_by_scim_is_enrolled_in_the_active_onboarding_campaign(app, client, hr):
    onboarding = await make_onboarding(app)
    start = datetime.now(UTC).date().isoformat()  # the service's day is UTC's
    user = await create(client, hr, hire("new.hire@example.com", **{CUECARD: {"hireDate": start}}))
    outsider = await create(
        client,
        hr,
        user_body("elsewhere@example.com", schemas=[USER, CUECARD], **{CUECARD: {"hireDate": start}}),
    )

    enrolled = await onboarding.enrollments()
    assert uuid.UUID(user["id"]) in enrolled
    assert enrolled[uuid.UUID(user["id"])].anchor_date.isoformat() == start
    assert uuid.UUID(outsider["id"]) not in enrolled  # not in the campaign's department

    # The leaver's enrollment is kept as history (left_at), not deleted.
    await client.delete(f"{BASE}/Users/{user['id']}", headers=hr)
    assert (await onboarding.enrollments())[uuid.UUID(user["id"])].left_at is not None


# --- discovery ---------------------------------------------------------------------------


async def test_service_provider_config_resource_types_and_schemas(app, client, hr):
    await make_department(app, key="sales", name="営業部")
    config = (await client.get(f"{BASE}/ServiceProviderConfig", headers=hr)).json()
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["etag"] == {"supported": True}
    assert (
        config["bulk"]["supported"]
        is config["sort"]["supported"]
        is config["changePassword"]["supported"]
        is False
    )
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    types = (await client.get(f"{BASE}/ResourceTypes", headers=hr)).json()
    assert [t["id"] for t in types["Resources"]] == ["User", "Group"]
    user_type = (await client.get(f"{BASE}/ResourceTypes/User", headers=hr)).json()
    assert user_type["endpoint"] == "/Users"
    assert {e["schema"] for e in user_type["schemaExtensions"]} == {ENTERPRISE, CUECARD}

    schemas = (await client.get(f"{BASE}/Schemas", headers=hr)).json()
    assert {s["id"] for s in schemas["Resources"]} == {*ALL_SCHEMAS, GROUP}
    enterprise = (await client.get(f"{BASE}/Schemas/{ENTERPRISE}", headers=hr)).json()
    attributes = {a["name"]: a for a in enterprise["attributes"]}
    assert set(attributes) == {"employeeNumber", "department", "manager"}
    assert attributes["department"]["canonicalValues"] == ["sales"]
    cuecard = (await client.get(f"{BASE}/Schemas/{CUECARD}", headers=hr)).json()
    role = next(a for a in cuecard["attributes"] if a["name"] == "role")
    assert role["canonicalValues"] == ["admin", "editor", "manager", "employee"]

    assert_scim_error(await client.get(f"{BASE}/Schemas/urn:nope", headers=hr), 404)
    group_type = (await client.get(f"{BASE}/ResourceTypes/Group", headers=hr)).json()
    assert group_type["endpoint"] == "/Groups" and group_type["schema"] == GROUP
    assert_scim_error(await client.get(f"{BASE}/ResourceTypes/Nope", headers=hr), 404)
    assert_scim_error(await client.post(f"{BASE}/ServiceProviderConfig", json={}, headers=hr), 405)


# --- who may, and SCIM errors ------------------------------------------------------------


async def test_no_or_bad_token_is_401_with_a_bearer_challenge(client):
    response = await client.get(f"{BASE}/Users")
    assert_scim_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"

    response = await client.get(f"{BASE}/Users", headers=bearer("not-a-token"))
    assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")

    response = await client.post(f"{BASE}/Users", json=user_body("x@example.com"))
    assert_scim_error(response, 401)


async def test_callers_without_people_write_are_refused_with_403(app, client):
    employee = await make_person(app, role="employee")
    editor = await make_person(app, role="editor")
    target = await make_person(app, role="employee")
    refused = {
        "employee": bearer(token_for(app, employee)),
        "editor": bearer(token_for(app, editor)),
        "pitch:read": bearer(await service_token(app, client, "pitch:read")),
        "people:read": bearer(await service_token(app, client, "people:read")),
    }
    for name, headers in refused.items():
        for method, path, body in [
            ("GET", "/Users", None),
            ("GET", f"/Users/{target.id}", None),
            ("POST", "/Users", user_body(f"{name.replace(':', '.')}@example.com")),
            ("PATCH", f"/Users/{target.id}", patch_body({"op": "replace", "path": "active", "value": False})),
            ("DELETE", f"/Users/{target.id}", None),
            ("GET", "/Schemas", None),
        ]:
            response = await client.request(method, f"{BASE}{path}", json=body, headers=headers)
            assert_scim_error(response, 403)
    # Nothing changed for the target.
    admin = await make_person(app, role="admin")
    person = (await client.get(f"/api/v1/people/{target.id}", headers=bearer(token_for(app, admin)))).json()
    assert person["active"] is True


async def test_an_admin_person_may_provision(app, client):
    admin = await make_person(app, role="admin")
    headers = {**bearer(token_for(app, admin)), "content-type": SCIM_JSON}
    assert (
        await client.post(f"{BASE}/Users", json=user_body("by.admin@example.com"), headers=headers)
    ).status_code == 201


async def test_unknown_ids_and_paths_are_scim_404(client, hr):
    assert_scim_error(await client.get(f"{BASE}/Users/{uuid.uuid4()}", headers=hr), 404)
    assert_scim_error(await client.get(f"{BASE}/Users/not-a-uuid", headers=hr), 404)
    assert_scim_error(
        await client.patch(
            f"{BASE}/Users/{uuid.uuid4()}",
            json=patch_body({"op": "replace", "path": "active", "value": False}),
            headers=hr,
        ),
        404,
    )
    assert_scim_error(await client.delete(f"{BASE}/Users/{uuid.uuid4()}", headers=hr), 404)
    assert_scim_error(await client.get(f"{BASE}/Groups/{uuid.uuid4()}", headers=hr), 404)
    assert_scim_error(await client.get(f"{BASE}/Groups/not-a-uuid", headers=hr), 404)
    # The rest of the API keeps RFC 9457 problem details.
    response = await client.get("/api/v1/nope", headers=hr)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_malformed_bodies_are_scim_400(client, hr):
    broken = await client.post(
        f"{BASE}/Users", content=b'{\n  "userName": "a"\n  "active": true}', headers=hr
    )
    assert_scim_error(broken, 400, "invalidSyntax")
    # Where it broke, as an editor counts: line and column, not a character offset.
    assert "Expecting ',' delimiter at line 3, column 3" in broken.json()["detail"]
    assert_scim_error(
        await client.post(f"{BASE}/Users", json=["not", "an", "object"], headers=hr), 400, "invalidSyntax"
    )
    assert_scim_error(
        await client.post(
            f"{BASE}/Users", json={"schemas": [USER], "displayName": "no userName"}, headers=hr
        ),
        400,
    )
    assert_scim_error(
        await client.post(f"{BASE}/Users", json=user_body("not-an-email"), headers=hr), 400, "invalidValue"
    )
    assert_scim_error(
        await client.post(f"{BASE}/Users", json=user_body("x@example.com", active="maybe"), headers=hr),
        400,
        "invalidValue",
    )
    assert_scim_error(
        await client.post(f"{BASE}/Users", json=user_body("y@example.com", externalId="x" * 256), headers=hr),
        400,
        "invalidValue",
    )


async def test_wrong_media_type_and_oversized_bodies_are_scim_errors(client, hr):
    response = await client.post(
        f"{BASE}/Users",
        content=b"userName=x",
        headers={**hr, "content-type": "application/x-www-form-urlencoded"},
    )
    assert_scim_error(response, 415)
    response = await client.post(f"{BASE}/Users", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers=hr)
    assert_scim_error(response, 413)
    # Plain JSON is accepted too (some HR systems do not send application/scim+json).
    response = await client.post(
        f"{BASE}/Users",
        json=user_body("plain@example.com"),
        headers={**hr, "content-type": "application/json"},
    )
    assert response.status_code == 201
