"""GraphQL queries read as REST reads do: without a transaction, on asyncpg directly where
service/reads.py can; mutations keep their use cases' transactions. A read session refuses
what needs a transaction (a use case's writes, SET LOCAL) instead of doing it half."""

from __future__ import annotations

import enum
import json
from typing import ClassVar

import pytest
import sqlalchemy as sa
import strawberry

from service import reads
from service.api.graphql import ExecutionContext
from service.db import set_local, use_case
from service.people import repository as people_repository
from service.people.models import Department
from tests.campaigns.helpers import acknowledge, make_campaign, submit_check
from tests.factories import (
    bearer,
    counting_statements,
    make_department,
    make_person,
    notices_settled,
    token_for,
)
from tests.feedback.test_loop import filed_feedback_id

PAGE = "{ people(first: 50) { edges { cursor node { id email department { key name } manager { displayName etag } } } pageInfo { endCursor } } }"


async def test_any_of_binds_a_list_of_ids(app):
    first = await make_department(app, key="any-a", name="営業部")
    second = await make_department(app, key="any-b", name="Sales")
    async with (
        app.state.sessionmaker(bind=app.state.read_engine) as session,
        counting_statements(app) as statements,
    ):
        for _ in range(3):  # learnt, then (on PostgreSQL) straight from asyncpg
            found = await people_repository.departments_by_ids(session, [first.id, second.id, first.id])
            assert {d.key for d in found.values()} == {"any-a", "any-b"}
            assert found[first.id].name == "営業部"
            assert await people_repository.departments_by_ids(session, []) == {}
            one = await people_repository.departments_by_ids(session, [second.id])
            assert list(one) == [second.id]
    assert len(statements) == 6  # no values: nothing sent
    if app.state.engine.dialect.name == "postgresql":
        assert all("= ANY" in statement for statement in statements)
        # One array parameter, so no expanding bind: the shape was learnt and asyncpg answered.
        assert any(
            shape.row._fields == tuple(c.name for c in Department.__table__.columns)
            for shape in reads._SHAPES.values()
        )


async def test_a_read_session_refuses_a_use_case_and_set_local(app):
    async with app.state.sessionmaker(bind=app.state.read_engine) as session:
        with pytest.raises(RuntimeError, match="transaction"):
            async with use_case(session):
                session.add(Department(key="never", name="Never"))
        with pytest.raises(RuntimeError, match="SET LOCAL"):
            await set_local(session, "work_mem = '64MB'")
    async with app.state.sessionmaker() as session:
        assert (await session.execute(sa.select(Department).where(Department.key == "never"))).first() is None
        async with use_case(session):  # a session with a transaction may
            await set_local(session, "work_mem = '64MB'")


async def test_a_query_page_reads_without_a_transaction_and_nested_fields_are_right(app, client):
    await make_department(app, key="reads-sales", name="営業部")
    boss = await make_person(app, role="manager", email="boss@example.com", department_key="reads-sales")
    for i in range(4):
        await make_person(app, email=f"r{i}@example.com", department_key="reads-sales", manager_id=boss.id)
    admin = await make_person(app, role="admin", email="admin@example.com")
    headers = bearer(token_for(app, admin))
    await notices_settled(app)  # a late notice of the setup would drop the cached caller
    reads._SHAPES.clear()
    answers = []
    for _ in range(2):
        async with counting_statements(app) as statements:
            response = await client.post("/graphql", json={"query": PAGE}, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        answers.append(response.json())
    assert answers[0] == answers[1]
    edges = answers[0]["data"]["people"]["edges"]
    staff = [e["node"] for e in edges if e["node"]["email"].startswith("r")]
    assert len(staff) == 4
    assert all(n["department"] == {"key": "reads-sales", "name": "営業部"} for n in staff)
    assert {n["manager"]["displayName"] for n in staff} == {boss.display_name}
    boss_etag = (await client.get(f"/api/v1/people/{boss.id}", headers=headers)).headers["etag"]
    assert {n["manager"]["etag"] for n in staff} == {boss_etag}
    assert answers[0]["data"]["people"]["pageInfo"]["endCursor"] == edges[-1]["cursor"]
    # The page, its departments and its managers: one statement each, whatever the page size.
    assert len(statements) == 3, statements
    if app.state.engine.dialect.name == "postgresql":
        # Only a read outside a transaction is learnt (service/reads.py): the query's were.
        learnt = {shape.row._fields[-1] for shape in reads._SHAPES.values()}
        assert "department_key" in learnt


async def test_a_mutation_still_commits_as_one_use_case(app, client):
    admin = await make_person(app, role="admin", email="root@example.com")
    headers = bearer(token_for(app, admin))
    mutation = 'mutation { createDepartment(input: {key: "m-dept", name: "開発部"}) { id key } }'
    response = await client.post("/graphql", json={"query": mutation}, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    query = "{ departments(first: 10) { edges { node { key name } } } }"
    listed = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    assert {"key": "m-dept", "name": "開発部"} in [e["node"] for e in listed["data"]["departments"]["edges"]]


HOME = """{
  me { id displayName }
  myFeed(limit: 20) {
    __typename
    ... on CampaignStep { campaignName acknowledged checkStatus brief { id title } }
    ... on FeedbackLoop { feedbackId excerpt status }
  }
  campaigns(first: 20, status: ACTIVE) { edges { node { id name brief { id title } } } }
  checks(first: 5, status: SUBMITTED) { edges { node { id status campaign { id name } } } }
}"""


async def test_the_home_query_reads_every_row_on_the_asyncpg_path(app, client):
    """The intranet home (the caller's feed, their campaigns with the brief, their open checks):
    every by-ids read binds one array, so on PostgreSQL none of its statements goes through
    SQLAlchemy's execution path once their shapes are learnt (service/reads.py)."""
    me = await make_person(app, role="employee", email="home@example.com", display_name="営業 花子")
    campaign = await make_campaign(app, roles=["employee"], name="請求書AI ローンチ")
    headers = bearer(token_for(app, me))
    assert (await acknowledge(client, headers, campaign.id)).status_code == 201
    assert (await submit_check(client, headers, campaign.id)).status_code == 201
    await filed_feedback_id(app, me, body="CSVの取り込みでエラーになる")
    await notices_settled(app)
    sent: list[tuple[str, bool]] = []

    def record(_conn: object, cursor: object, statement: str, *_args: object) -> None:
        sent.append((statement.split(" FROM ")[0][:60], cursor is None))  # no cursor: asyncpg's own fetch

    answers = []
    for _ in range(2):
        sent.clear()
        async with counting_statements(app):  # the read cache off: every request is answered
            sa.event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
            try:
                response = await client.post("/graphql", json={"query": HOME}, headers=headers)
            finally:
                sa.event.remove(app.state.engine.sync_engine, "before_cursor_execute", record)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        answers.append(response.json()["data"])
    assert answers[0] == answers[1]
    data = answers[1]
    assert data["me"]["displayName"] == "営業 花子"
    steps = [e for e in data["myFeed"] if e["__typename"] == "CampaignStep"]
    assert [(s["campaignName"], s["acknowledged"], s["checkStatus"]) for s in steps] == [
        ("請求書AI ローンチ", True, "SUBMITTED")
    ]
    assert steps[0]["brief"]["id"] == str(campaign.current_brief_id)
    assert [e["excerpt"] for e in data["myFeed"] if e["__typename"] == "FeedbackLoop"] == [
        "CSVの取り込みでエラーになる"
    ]
    assert [e["node"]["name"] for e in data["campaigns"]["edges"]] == ["請求書AI ローンチ"]
    assert [e["node"]["campaign"]["name"] for e in data["checks"]["edges"]] == ["請求書AI ローンチ"]
    assert len(sent) >= 10, sent
    if app.state.engine.dialect.name == "postgresql":
        assert [s for s, fast in sent if not fast] == []


# --- the execution shortcuts answer exactly as graphql-core does ---------------------------------


class _Source:
    """Values a resolver may meet: fine, null where it may not be, raising, out of range."""

    def __init__(self, number: object, label: object = "ラベル") -> None:
        self.number = number
        self.label = label

    @property
    def broken(self) -> str:
        raise ValueError("cannot read this")


class Colour(enum.Enum):
    RED = "red"


strawberry.enum(Colour)
_Source.colour = Colour.RED  # type: ignore[attr-defined]  # every item is red


@strawberry.type
class Item:
    is_type_of = staticmethod(lambda obj, _info: isinstance(obj, _Source))  # as graphql_kit.view does

    number: int
    label: str | None
    broken: str | None
    colour: Colour = Colour.RED

    @strawberry.field
    async def later(self) -> str:  # a resolver's field, awaited, between plain leaves
        return f"later {self.number}"


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [_Source(1), _Source(None), _Source(2**40), _Source(3, None)]  # type: ignore[list-item]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query)
    fast = strawberry.Schema(query=Query, execution_context_class=ExecutionContext)
    return plain, fast


async def test_leaf_shortcut_answers_errors_and_nulls_as_graphql_core_does():
    plain, fast = _schemas()
    query = "{ items { number label broken colour } }"
    expected, got = await plain.execute(query), await fast.execute(query)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]
    # The cases are there: a fine row, a non-null null, an Int out of range, a null that may be.
    assert got.data == {
        "items": [
            {"number": 1, "label": "ラベル", "broken": None, "colour": "RED"},
            None,
            None,
            {"number": 3, "label": None, "broken": None, "colour": "RED"},
        ]
    }
    assert {tuple(e.path) for e in got.errors or []} >= {("items", 1, "number"), ("items", 2, "number")}


async def test_leaves_around_awaited_fields_keep_the_documents_order():
    plain, fast = _schemas()
    query = "{ items { label later number alias: number ...on Item { colour } } }"
    expected, got = await plain.execute(query), await fast.execute(query)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]
    first = got.data["items"][0]
    assert list(first) == ["label", "later", "number", "alias", "colour"]
    assert first == {"label": "ラベル", "later": "later 1", "number": 1, "alias": 1, "colour": "RED"}


class _Holder:
    def __init__(self, item: object, maybe: object, items: object) -> None:
        self.item, self.maybe, self.items = item, maybe, items


@strawberry.type
class Holder:
    item: Item  # plain object fields: non-null, nullable, a non-null list of non-null items
    maybe: Item | None
    items: list[Item]


@strawberry.type
class HolderQuery:
    @strawberry.field
    def holders(self) -> list[Holder | None]:
        return [
            _Holder(_Source(1), None, [_Source(2), _Source(3)]),  # fine, and a null that may be
            _Holder(_Source(None), _Source(4), []),  # null inside a non-null object: the holder goes
            _Holder(_Source(5), _Source(None), [_Source(6)]),  # ... inside a nullable one: that one goes
            _Holder(_Source(7), _Source(8), [_Source(9), _Source(None)]),  # ... in a list item: the holder
            _Holder(_Source(10), _Source(11), None),  # a non-null list that is null
            _Holder(_Source(12), _Source(13), "not a list"),  # a list that is not one
            _Holder("not an item", _Source(14), [_Source(15)]),  # a value its type's check refuses
            _Holder(_Source(16), _Source(17), [_Source(18), None]),  # a null item where none may be
            _Holder(_Source(19), ValueError("an error as a value"), [ValueError("in a list")]),
        ]  # type: ignore[list-item]


@pytest.mark.parametrize(
    "query",
    [
        "{ holders { item { number label } maybe { label number } items { number colour } } }",
        # awaited fields inside the objects, aliases and __typename, the keys' order
        "{ holders { maybe { later number } n: item { __typename later number } items { later label } } }",
        "{ holders { items { ...on Item { number } number2: number } item { number @include(if: true) } } }",
    ],
)
async def test_nested_object_shortcut_answers_as_graphql_core_does(query):
    plain = strawberry.Schema(query=HolderQuery)
    fast = strawberry.Schema(query=HolderQuery, execution_context_class=ExecutionContext)
    expected, got = await plain.execute(query), await fast.execute(query)
    assert json.dumps(got.data) == json.dumps(expected.data)  # the same values, keys in the same order
    assert sorted((e.message, tuple(e.path or ())) for e in got.errors or []) == sorted(
        (e.message, tuple(e.path or ())) for e in expected.errors or []
    )
    assert got.data["holders"][0] is not None and got.data["holders"][1] is None
    assert len(expected.errors or []) >= 4


class _Counting(ExecutionContext):
    completed: ClassVar[list[str]] = []

    def complete_object_value(self, return_type, *args, **kwargs):  # graphql-core's own completion
        _Counting.completed.append(return_type.name)
        return super().complete_object_value(return_type, *args, **kwargs)


async def test_plain_objects_are_not_completed_by_graphql_core():
    fast = strawberry.Schema(query=HolderQuery, execution_context_class=_Counting)
    _Counting.completed.clear()
    await fast.execute("{ holders { item { number } maybe { number } items { number } } }")
    # The holders come from a resolver; what they hold is read as plain objects.
    # graphql-core completes the holders, the item its type's check refuses, and the fine item
    # of the list holding a null (a list with anything unusual is graphql-core's whole).
    assert sorted(_Counting.completed) == ["Holder"] * 9 + ["Item"] * 2
