"""The shared read helper (service/reads.py `fetch_rows`): on PostgreSQL, outside a transaction,
a select's rows come straight from asyncpg once its shape is known; they must be what
SQLAlchemy's own path returns, and what watches statements must still see them."""

from __future__ import annotations

import uuid
from datetime import UTC

import sqlalchemy as sa

from service import reads
from service.pagination import PageParams, keyset
from service.people import repository as people_repository
from service.people.models import Department, Person
from service.readcache import Trace, tracing
from service.reads import as_dict, fetch_rows, read_one, rows_of
from tests.factories import counting_statements, make_department, make_person


def _autocommit(app):
    return app.state.engine.execution_options(isolation_level="AUTOCOMMIT")


async def test_rows_are_what_sqlalchemy_returns_every_time(app):
    department = await make_department(app, key="sales", name="営業部")
    boss = await make_person(app, role="manager", department_key="sales")
    for i in range(3):
        await make_person(app, email=f"p{i}@example.com", department_key="sales", manager_id=boss.id)
    await make_person(app, email="nodept@example.com")
    page = keyset(people_repository._PERSON_READS, Person, PageParams(limit=3))
    async with _autocommit(app).connect() as connection:
        expected = [dict(row._mapping) for row in (await connection.execute(page)).all()]
        # The first call learns the shape through SQLAlchemy; the next ones may go around it.
        for _ in range(3):
            rows = await fetch_rows(connection, page)
            assert [as_dict(row) for row in rows] == expected
            assert [type(v) for v in as_dict(rows[0]).values()] == [type(v) for v in expected[0].values()]
            assert rows[0].created_at.tzinfo is UTC
            assert isinstance(rows[0].id, uuid.UUID)
            assert rows[-1].department_key == "sales"
            assert rows[0][0] == expected[0]["id"]
    assert len(expected) == 4  # one past the page: the look-ahead row
    if app.state.engine.dialect.name == "postgresql":  # the shape was learnt: asyncpg answered
        assert any(shape.row._fields[-1] == "department_key" for shape in reads._SHAPES.values())
    assert department.key == "sales"


async def test_a_missing_row_is_none_and_bind_values_change_between_calls(app):
    first = await make_department(app, key="a-dept", name="A")
    second = await make_department(app, key="b-dept", name="B")
    async with app.state.sessionmaker(bind=_autocommit(app)) as session:
        for _ in range(2):
            for wanted in (first, second):
                row = await read_one(
                    session, rows_of(Department).where(Department.__table__.c.id == wanted.id)
                )
                assert row is not None and row.key == wanted.key
            missing = rows_of(Department).where(Department.__table__.c.id == uuid.uuid4())
            assert await read_one(session, missing) is None


async def test_statement_watchers_see_every_read(app):
    await make_department(app, key="watched", name="W")
    stmt = rows_of(Department).where(Department.__table__.c.key == "watched")
    async with _autocommit(app).connect() as connection:
        await fetch_rows(connection, stmt)  # learnt
        async with counting_statements(app) as statements:
            trace = Trace()
            with tracing(trace):
                rows = await fetch_rows(connection, stmt)
        assert [row.key for row in rows] == ["watched"]
        # The read cache learns which tables an answer read; statement counters count it.
        assert trace.tables == {"departments"} and trace.keep
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


async def test_in_a_transaction_and_with_expanding_binds_the_normal_path_answers(app):
    people = [await make_person(app, email=f"t{i}@example.com") for i in range(2)]
    async with app.state.sessionmaker() as session, session.begin():
        for _ in range(2):
            rows = await people_repository.person_reads_by_ids(session, [p.id for p in people])
            assert sorted(row.email for row in rows) == ["t0@example.com", "t1@example.com"]
    async with _autocommit(app).connect() as connection:
        stmt = sa.select(Person.__table__.c.email).where(Person.__table__.c.id.in_([p.id for p in people]))
        for _ in range(2):
            assert sorted(row.email for row in await fetch_rows(connection, stmt)) == [
                "t0@example.com",
                "t1@example.com",
            ]
