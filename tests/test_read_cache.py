"""Repeated reads answered from memory (service/readcache.py), from the side that must never
see a stale or someone else's answer: every write through any door or engine ends what it
touched, callers never share answers, a revoked caller is refused, mutations always run."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from service.api.metrics import READ_CACHE
from service.listener import asyncpg_dsn
from service.main import create_app
from service.people.models import Person
from service.readcache import CHANNEL, EVERYTHING, ReadCache, Trace
from tests.conftest import BACKEND
from tests.factories import bearer, counting_statements, make_person, notices_settled, token_for

PEOPLE = "/api/v1/people?limit=50"
PAGE = "{ people(first: 50) { edges { node { id displayName email } } } }"


def sent(app: Any) -> Any:
    """The statements the app's engine sends meanwhile (the cache stays on: it is what is tested)."""
    return counting_statements(app, read_cache=True)


async def change(http: httpx.AsyncClient, admin: dict[str, str], person_id: Any, **fields: Any) -> None:
    """PATCH a person through `http` (its current ETag first)."""
    current = await http.get(f"/api/v1/people/{person_id}", headers=admin)
    changed = await http.patch(
        f"/api/v1/people/{person_id}", json=fields, headers={**admin, "If-Match": current.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text


async def gql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_repeated_read_is_answered_from_memory_with_its_own_request_id(app, client, callers):
    admin = callers.headers("admin")
    await notices_settled(app)
    first = await client.get(PEOPLE, headers=admin)
    async with sent(app) as statements:
        again = await client.get(PEOPLE, headers=admin)
    assert statements == []
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert again.headers["x-content-type-options"] == "nosniff"

    me = f"/api/v1/people/{callers.people['admin'].id}"
    kept = await client.get(me, headers=admin)
    assert (await client.get(me, headers=admin)).content == kept.content
    async with sent(app) as statements:
        not_modified = await client.get(me, headers={**admin, "If-None-Match": kept.headers["etag"]})
    assert statements == []
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == kept.headers["etag"]


@pytest.mark.parametrize("door", ["rest", "graphql"])
async def test_a_write_through_either_door_ends_what_it_touched(app, client, callers, door):
    admin = callers.headers("admin")
    person = await make_person(app, display_name="佐藤 花子")
    await notices_settled(app)
    assert "佐藤 花子" in (await client.get(PEOPLE, headers=admin)).text
    assert "佐藤 花子" in str(await gql(client, PAGE, admin))
    if door == "rest":
        await change(client, admin, person.id, display_name="佐藤 花")
    else:
        mutation = "mutation($id: ID!, $input: PersonPatch!) { updatePerson(id: $id, input: $input) { displayName } }"
        body = await gql(client, mutation, admin, id=str(person.id), input={"displayName": "佐藤 花"})
        assert body["data"]["updatePerson"]["displayName"] == "佐藤 花", body
    rest, graphql = (await client.get(PEOPLE, headers=admin)).text, str(await gql(client, PAGE, admin))
    assert "佐藤 花子" not in rest and "佐藤 花" in rest
    assert "佐藤 花子" not in graphql and "佐藤 花" in graphql


async def test_a_write_by_another_engine_in_the_process_ends_it_too(app, client, callers, settings):
    admin = callers.headers("admin")
    person = await make_person(app, display_name="Original name")
    await notices_settled(app)
    assert "Original name" in (await client.get(PEOPLE, headers=admin)).text
    other = create_async_engine(settings.resolved_database_url)
    try:
        async with other.begin() as conn:
            await conn.execute(
                sa.update(Person).where(Person.id == person.id).values(display_name="Changed behind")
            )
    finally:
        await other.dispose()
    assert "Changed behind" in (await client.get(PEOPLE, headers=admin)).text


async def test_callers_never_share_an_answer(app, client, callers):
    numbered = await make_person(app, employee_number="E-1001")
    await notices_settled(app)
    admin = await client.get(PEOPLE, headers=callers.headers("admin"))
    assert admin.status_code == 200
    employee = await client.get(PEOPLE, headers=callers.headers("employee"))
    assert employee.status_code == 200 and employee.content != admin.content

    # An employee sees others' private fields hidden; the admin's answer shows them.
    def number(page: httpx.Response) -> str | None:
        return next(p["employee_number"] for p in page.json()["items"] if p["id"] == str(numbered.id))

    assert number(admin) == "E-1001" and number(employee) is None
    refused = await client.get(PEOPLE, headers=callers.headers("svc_pitch"))
    assert refused.status_code == 403
    anonymous = await client.get(PEOPLE)
    assert anonymous.status_code == 401


async def test_a_deactivated_caller_is_refused_though_their_answer_was_kept(app, client, callers):
    admin = callers.headers("admin")
    reader = await make_person(app, role="admin")
    token = bearer(token_for(app, reader))
    await notices_settled(app)
    assert (await client.get(PEOPLE, headers=token)).status_code == 200
    await change(client, admin, reader.id, active=False)
    await notices_settled(app)
    assert (await client.get(PEOPLE, headers=token)).status_code == 401


async def test_a_mutation_always_runs_and_an_error_is_never_kept(app, client, callers):
    admin = callers.headers("admin")
    create = "mutation($input: DepartmentInput!) { createDepartment(input: $input) { key } }"
    first = await gql(client, create, admin, input={"key": "cache-dept", "name": "営業"})
    assert first["data"]["createDepartment"]["key"] == "cache-dept", first
    again = await gql(client, create, admin, input={"key": "cache-dept", "name": "営業"})
    assert again.get("errors"), again  # it ran again: the key is taken now

    missing = "query($id: ID!) { person(id: $id) { id } }"
    absent = "00000000-0000-0000-0000-000000000001"
    assert (await gql(client, missing, admin, id=absent)).get("errors")
    async with sent(app) as statements:
        assert (await gql(client, missing, admin, id=absent)).get("errors")
    assert statements, "an error answer was served from memory"


async def test_answers_expire_on_their_own(app, client, callers):
    admin = callers.headers("admin")
    await notices_settled(app)
    cache: ReadCache = app.state.read_cache
    ttl, cache.ttl = cache.ttl, 0.2
    try:
        await client.get(PEOPLE, headers=admin)
        async with sent(app) as kept:
            await client.get(PEOPLE, headers=admin)
        await asyncio.sleep(0.3)
        async with sent(app) as expired:
            await client.get(PEOPLE, headers=admin)
    finally:
        cache.ttl = ttl
    assert kept == [] and expired


def test_a_read_that_overlapped_a_commit_is_not_kept():
    """The rules themselves: a write committing while a read runs (in flight) or after it began
    (bumped) keeps the read from being stored, and ends entries that read the table."""
    cache = ReadCache(ttl_seconds=60)
    response = (200, [(b"etag", b'"1"')], b"{}")
    trace, stamp = cache.begin()
    trace.tables.add("people")
    cache.committing({"people"})  # a transaction is committing while the read runs
    assert not cache.put("k", trace, stamp, response)
    cache.committed({"people"})
    assert not cache.put("k", trace, stamp, response)  # it began before the bump

    trace, stamp = cache.begin()
    trace.tables.add("people")
    assert cache.put("k", trace, stamp, response)
    assert cache.get("k") is not None
    cache.committing({"departments"})
    assert cache.get("k") is not None  # another table
    cache.committing({"people"})
    assert cache.get("k") is None
    cache.committed({"people"})

    trace, stamp = cache.begin()
    trace.tables.add("people")
    assert cache.put("k", trace, stamp, response)
    cache.committing({EVERYTHING})  # text SQL that wrote: any table may be changing
    assert cache.get("k") is None
    cache.committed({EVERYTHING})

    untraced = Trace()  # read nothing we could name (text SQL): never kept
    assert not cache.put("u", untraced, cache.begin()[1], response)


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_write_through_another_replica_ends_the_answer_here(app, client, callers, settings):
    admin = callers.headers("admin")
    person = await make_person(app, display_name="Before the replica")
    await notices_settled(app)
    assert "Before the replica" in (await client.get(PEOPLE, headers=admin)).text
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as second:
            await change(second, admin, person.id, display_name="After the replica")
    await notices_settled(app)  # notices arrive in commit order: the table notice came first
    assert "After the replica" in (await client.get(PEOPLE, headers=admin)).text


@pytest.mark.skipif(BACKEND != "postgres", reason="NOTIFY is PostgreSQL's")
async def test_a_commit_tells_every_replica_which_tables_it_wrote(app, client, callers, settings):
    """In one process every cache hears every engine; across processes only the notice carries
    the change, so it is checked as another process would receive it."""
    admin = callers.headers("admin")
    person = await make_person(app)
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(app.state.engine.url))
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
        await change(client, admin, person.id, display_name="通知")
        refused = await client.patch(
            f"/api/v1/people/{person.id}",
            json={"display_name": "x"},
            headers={**admin, "If-Match": '"stale"'},
        )
        assert refused.status_code == 412
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()
    assert heard and all("people" in payload.split(",") for payload in heard), heard


async def test_the_same_read_arriving_together_is_answered_once(app, client, callers):
    admin = callers.headers("admin")
    await make_person(app, display_name="一度だけ")
    await notices_settled(app)
    async with sent(app) as together:
        answers = await asyncio.gather(*(client.get(PEOPLE, headers=admin) for _ in range(8)))
    async with sent(app) as once:
        app.state.read_cache.invalidate_all()
        await client.get(PEOPLE, headers=admin)
    assert len({a.content for a in answers}) == 1 and all(a.status_code == 200 for a in answers)

    # (Each request still resolves its caller: only the page's own query is counted.)
    def pages(statements: list[str]) -> int:
        return sum("ORDER BY people.created_at" in statement for statement in statements)

    assert pages(together) == pages(once) == 1, (together, once)


def cache_lookups(metrics_text: str, outcome: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == READ_CACHE + "_total" and sample.labels.get("outcome") == outcome:
                return sample.value
    return 0.0


async def test_metrics_count_reads_answered_from_memory_and_computed(app, client, callers):
    admin = callers.headers("admin")
    await notices_settled(app)
    path = "/api/v1/people?limit=7"  # a read no other test keeps
    before = (await client.get("/metrics")).text
    assert (await client.get(path, headers=admin)).status_code == 200
    assert (await client.get(path, headers=admin)).status_code == 200
    after = (await client.get("/metrics")).text
    assert cache_lookups(after, "miss") == cache_lookups(before, "miss") + 1
    assert cache_lookups(after, "hit") == cache_lookups(before, "hit") + 1
