"""People, departments and products over REST: writes, reads, ETags, pages and idempotency."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from service.people.models import Person
from tests.factories import bearer, make_department, make_person, service_token, token_for


async def count_people(app) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(Person))).scalar_one()


async def test_admin_creates_a_person_in_japanese_and_reads_it_back(app, client, callers):
    department = await make_department(app, key="sales", name="営業部")
    response = await client.post(
        "/api/v1/people",
        json={
            "email": "Hanako.Yamada@Example.com",
            "display_name": "山田 花子",
            "department_key": "sales",
            "hire_date": "2026-12-01",
            "employee_number": "E-1001",
            "locale": "ja",
        },
        headers=callers.headers("admin"),
    )
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["email"] == "hanako.yamada@example.com"  # e-mail is the join key: stored lower-case
    assert person["display_name"] == "山田 花子"
    assert person["department_id"] == str(department.id)
    assert person["department_key"] == "sales"
    assert response.headers["location"] == f"/api/v1/people/{person['id']}"
    assert response.headers["etag"] == '"v1"'

    fetched = await client.get(f"/api/v1/people/{person['id']}", headers=callers.headers("admin"))
    assert fetched.json()["employee_number"] == "E-1001"


async def test_private_fields_are_hidden_from_other_employees_but_not_from_the_person(app, client):
    person = await make_person(app, employee_number="E-7", hire_date="2026-04-01")
    other = await make_person(app)
    seen_by_other = await client.get(f"/api/v1/people/{person.id}", headers=bearer(token_for(app, other)))
    assert seen_by_other.status_code == 200
    assert seen_by_other.json()["employee_number"] is None
    assert seen_by_other.json()["hire_date"] is None
    seen_by_self = await client.get("/api/v1/me", headers=bearer(token_for(app, person)))
    assert seen_by_self.json()["employee_number"] == "E-7"
    assert seen_by_self.json()["hire_date"] == "2026-04-01"


async def test_duplicate_email_is_a_conflict_and_writes_nothing(app, client, callers):
    before = await count_people(app)
    body = {"email": callers.people["employee"].email.upper(), "display_name": "重複"}
    response = await client.post("/api/v1/people", json=body, headers=callers.headers("admin"))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_people(app) == before


async def test_unknown_department_lists_the_field_and_writes_nothing(app, client, callers):
    before = await count_people(app)
    response = await client.post(
        "/api/v1/people",
        json={"email": "x@example.com", "display_name": "X", "department_key": "no-such"},
        headers=callers.headers("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "department_key"
    assert await count_people(app) == before


async def test_mass_assignment_is_refused(client, callers):
    response = await client.post(
        "/api/v1/people",
        json={"email": "y@example.com", "display_name": "Y", "version": 99, "id": "not-yours"},
        headers=callers.headers("admin"),
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"version", "id"}


async def test_etag_round_trip_304_and_if_match(app, client, callers):
    person = await make_person(app)
    url = f"/api/v1/people/{person.id}"
    admin = callers.headers("admin")
    first = await client.get(url, headers=admin)
    etag = first.headers["etag"]
    not_modified = await client.get(url, headers={**admin, "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""

    changed = await client.patch(
        url, json={"display_name": "新しい 名前"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["display_name"] == "新しい 名前"

    stale = await client.patch(url, json={"display_name": "上書き"}, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    again = await client.get(url, headers=admin)
    assert again.json()["display_name"] == "新しい 名前"  # the stale write changed nothing
    assert (await client.get(url, headers={**admin, "If-None-Match": etag})).status_code == 200


async def test_patch_moves_department_and_clears_fields(app, client, callers):
    await make_department(app, key="support")
    person = await make_person(app, employee_number="E-1")
    url = f"/api/v1/people/{person.id}"
    response = await client.patch(
        url, json={"department_key": "support", "employee_number": None}, headers=callers.headers("admin")
    )
    assert response.status_code == 200
    assert response.json()["department_key"] == "support"
    assert response.json()["employee_number"] is None
    refused = await client.patch(url, json={"display_name": None}, headers=callers.headers("admin"))
    assert refused.status_code == 422


async def test_a_person_cannot_manage_themself(app, client, callers):
    person = await make_person(app)
    response = await client.patch(
        f"/api/v1/people/{person.id}", json={"manager_id": str(person.id)}, headers=callers.headers("admin")
    )
    assert response.status_code == 422


async def test_deactivated_people_cannot_call_the_api(app, client, callers):
    person = await make_person(app)
    token = token_for(app, person)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    await client.patch(
        f"/api/v1/people/{person.id}", json={"active": False}, headers=callers.headers("admin")
    )
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_people_pages_walk_everyone_once_with_link_headers(app, client, callers):
    for n in range(7):
        await make_person(app, display_name=f"社員 {n}")
    total = await count_people(app)
    seen: list[str] = []
    url = "/api/v1/people?limit=3"
    pages = 0
    while url:
        response = await client.get(url, headers=callers.headers("admin"))
        assert response.status_code == 200
        body = response.json()
        seen += [p["id"] for p in body["items"]]
        pages += 1
        link = response.headers.get("link")
        assert (link is None) == (body["next_cursor"] is None)
        url = link.split(">")[0].lstrip("<").removeprefix("http://testserver") if link else None
    assert len(seen) == len(set(seen)) == total
    assert pages == -(-total // 3)


async def test_people_filters(app, client, callers):
    await make_department(app, key="hr", name="人事部")
    hr_person = await make_person(app, department_key="hr")
    response = await client.get("/api/v1/people?department_key=hr", headers=callers.headers("admin"))
    assert [p["id"] for p in response.json()["items"]] == [str(hr_person.id)]
    by_email = await client.get(f"/api/v1/people?email={hr_person.email}", headers=callers.headers("admin"))
    assert [p["id"] for p in by_email.json()["items"]] == [str(hr_person.id)]
    unknown = await client.get("/api/v1/people?department_key=nowhere", headers=callers.headers("admin"))
    assert unknown.json()["items"] == []


async def test_limit_bounds_and_bad_cursor(client, callers):
    admin = callers.headers("admin")
    assert (await client.get("/api/v1/people?limit=200", headers=admin)).status_code == 200
    too_many = await client.get("/api/v1/people?limit=201", headers=admin)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"
    assert (await client.get("/api/v1/people?limit=0", headers=admin)).status_code == 422
    bad = await client.get("/api/v1/people?cursor=not-a-cursor", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_products_and_departments(app, client, callers):
    admin = callers.headers("admin")
    created = await client.post(
        "/api/v1/products",
        json={
            "key": "kuradesk",
            "name": "クラデスク",
            "description": "請求書を自動入力",
            "is_company": False,
        },
        headers=admin,
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/products/kuradesk"
    got = await client.get("/api/v1/products/kuradesk", headers=callers.headers("employee"))
    assert got.json()["name"] == "クラデスク"
    assert (await client.get("/api/v1/products/unknown", headers=admin)).status_code == 404
    bad_key = await client.post("/api/v1/products", json={"key": "Not A Slug", "name": "x"}, headers=admin)
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["pointer"] == "#/key"
    listed = await client.get("/api/v1/departments", headers=callers.headers("employee"))
    assert listed.status_code == 200
    assert listed.json()["items"]


async def test_idempotency_key_replays_the_first_response(app, client):
    token = await service_token(app, client, "people:write")
    headers = {**bearer(token), "Idempotency-Key": "hr-sync-42"}
    body = {"email": "new.hire@example.com", "display_name": "新入 社員"}
    first = await client.post("/api/v1/people", json=body, headers=headers)
    assert first.status_code == 201
    # Same key, same body (in another key order): the first response, no second row.
    replay = await client.post(
        "/api/v1/people", json={"display_name": "新入 社員", "email": "new.hire@example.com"}, headers=headers
    )
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    people = await client.get("/api/v1/people?email=new.hire@example.com", headers=bearer(token))
    assert len(people.json()["items"]) == 1
    # Same key, another body: refused, nothing written.
    other = await client.post(
        "/api/v1/people", json={"email": "someone.else@example.com", "display_name": "別人"}, headers=headers
    )
    assert other.status_code == 422
    missing = await client.get("/api/v1/people?email=someone.else@example.com", headers=bearer(token))
    assert missing.json()["items"] == []


async def test_idempotency_keys_belong_to_their_caller(app, client):
    first_token = await service_token(app, client, "people:write")
    second_token = await service_token(app, client, "people:write")
    key = {"Idempotency-Key": "shared-key"}
    a = await client.post(
        "/api/v1/people",
        json={"email": "a@example.com", "display_name": "A"},
        headers={**bearer(first_token), **key},
    )
    b = await client.post(
        "/api/v1/people",
        json={"email": "b@example.com", "display_name": "B"},
        headers={**bearer(second_token), **key},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_a_failed_keyed_request_can_be_retried(app, client, callers):
    headers = {**callers.headers("admin"), "Idempotency-Key": "retry-me"}
    body = {"email": "later@example.com", "display_name": "後で", "department_key": "arrives-later"}
    assert (await client.post("/api/v1/people", json=body, headers=headers)).status_code == 422
    await make_department(app, key="arrives-later")
    assert (await client.post("/api/v1/people", json=body, headers=headers)).status_code == 201


async def test_concurrent_duplicates_create_one_row(app, client):
    token = await service_token(app, client, "people:write")
    headers = {**bearer(token), "Idempotency-Key": "double-click"}
    body = {"email": "once@example.com", "display_name": "一度だけ"}
    before = await count_people(app)
    responses = await asyncio.gather(
        *(client.post("/api/v1/people", json=body, headers=headers) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert await count_people(app) == before + 1
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1


async def test_product_idempotency_and_bad_key(client, callers):
    headers = {**callers.headers("admin"), "Idempotency-Key": "bad key with spaces"}
    response = await client.post("/api/v1/products", json={"key": "ok-key", "name": "x"}, headers=headers)
    assert response.status_code == 400


async def test_a_name_longer_than_published_is_refused_even_when_padded_with_spaces(client, callers):
    """Found by the contract fuzzer: whitespace was stripped before the length check, so a
    body breaking the published maxLength (200) was accepted."""
    padded = await client.post(
        "/api/v1/departments",
        json={"key": "padded", "name": "    営業" + "*" * 198},
        headers=callers.headers("admin"),
    )
    assert padded.status_code == 422, padded.text
    assert padded.json()["errors"][0]["field"] == "name"
    stripped = await client.post(
        "/api/v1/departments", json={"key": "trimmed", "name": "  営業部  "}, headers=callers.headers("admin")
    )
    assert stripped.status_code == 201, stripped.text
    assert stripped.json()["name"] == "営業部"
