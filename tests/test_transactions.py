"""One transaction per use case: the outermost service call commits or rolls back; the service
functions it calls, its own domain's or another's, join it and never commit on their own.

Checked against the real database (SQLite and PostgreSQL): what a use case wrote before a
later part of it failed is gone, whichever domain wrote it.
"""

from __future__ import annotations

import gc
import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col

from service.campaigns import service as campaigns_service
from service.campaigns.models import Enrollment
from service.campaigns.schemas import InterviewCreate
from service.db import use_case
from service.errors import Conflict
from service.feedback import ingest
from service.feedback.models import FeedbackItem
from service.people import service as people_service
from service.people.models import Department, Person
from service.people.schemas import DepartmentCreate, PersonCreate
from service.products import service as products_service
from service.products.models import Product
from service.products.schemas import ProductCreate
from tests.campaigns.helpers import make_campaign, utc_today
from tests.factories import (
    OPERATOR,
    bearer,
    make_department,
    make_person,
    make_product,
    principal_of,
    service_token,
    unique,
)
from tests.scim.conftest import BASE, SCIM_JSON, USER

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class Refused(Exception):
    """A later part of a use case failing."""


async def count(app, table: type[SQLModel], *where: sa.ColumnElement[bool]) -> int:
    """Rows as committed, seen from a session of their own."""
    async with app.state.sessionmaker() as session:
        stmt = sa.select(sa.func.count()).select_from(table).where(*where)
        return (await session.execute(stmt)).scalar_one()


async def test_service_calls_nested_in_a_use_case_commit_nothing_when_it_fails(app):
    department_key, product_key = unique("dept"), unique("p")
    async with app.state.sessionmaker() as session:
        with pytest.raises(Refused):
            async with use_case(session):
                await people_service.create_department(
                    session, OPERATOR, DepartmentCreate(key=department_key, name="営業部")
                )
                await products_service.create_product(
                    session, OPERATOR, ProductCreate(key=product_key, name="クラデスク")
                )
                # Both written, inside this transaction only.
                assert await people_service.existing_department_keys(session, OPERATOR, [department_key])
                raise Refused
    assert await count(app, Department, Department.key == department_key) == 0
    assert await count(app, Product, Product.key == product_key) == 0


async def test_a_person_and_the_enrollment_their_change_caused_go_when_a_later_call_is_refused(app):
    department = await make_department(app)
    await make_campaign(app, departments=[department.key])  # running: whoever joins the department is in
    taken = await make_product(app)
    email = f"{unique('hire')}@example.com"
    async with app.state.sessionmaker() as session:
        with pytest.raises(Conflict):
            async with use_case(session):
                hire = await people_service.create_person(
                    session,
                    OPERATOR,
                    PersonCreate(email=email, display_name="新人 花子", department_key=department.key),
                )
                # The campaigns domain enrolled them through the people hook, in this transaction.
                enrolled = sa.select(sa.func.count()).where(Enrollment.person_id == hire.id)
                assert (await session.execute(enrolled)).scalar_one() == 1
                await products_service.create_product(
                    session, OPERATOR, ProductCreate(key=taken.key, name="二重登録")
                )
    assert await count(app, Person, Person.email == email) == 0
    assert await count(app, Enrollment) == 0

    # Called on its own, the same service function is the use case: it commits, enrollment included.
    async with app.state.sessionmaker() as session:
        hire = await people_service.create_person(
            session,
            OPERATOR,
            PersonCreate(email=email, display_name="新人 花子", department_key=department.key),
        )
    assert await count(app, Enrollment, Enrollment.person_id == hire.id) == 1


async def test_the_interview_exercise_files_its_feedback_in_the_campaigns_transaction(app):
    hire = await make_person(app, display_name="新人 一郎", hire_date=utc_today())
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "day_offset": 0,
                "exercise": "customer_interview",
            }
        ],
    )
    interview = InterviewCreate.model_validate(
        {"answers": {"why_chose_us": "会計ソフトとの連携が早い", "why_not_buy": "手書きの請求書が多い"}}
    )
    async with app.state.sessionmaker() as session:
        with pytest.raises(Refused):
            async with use_case(session):
                filed = await campaigns_service.record_interview(
                    session, principal_of(hire), campaign.id, interview
                )
                assert len(filed.feedback_ids) == 2
                raise Refused
    # The feedback domain did not commit on its own: nothing was filed.
    assert await count(app, FeedbackItem) == 0

    async with app.state.sessionmaker() as session:
        filed = await campaigns_service.record_interview(session, principal_of(hire), campaign.id, interview)
    assert await count(app, FeedbackItem, col(FeedbackItem.id).in_(filed.feedback_ids)) == 2


async def test_a_group_change_refused_after_it_made_a_department_leaves_no_department(app, client):
    hr = {**bearer(await service_token(app, client, "people:write")), "content-type": SCIM_JSON}
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    user = await client.post(f"{BASE}/Users", json={"schemas": [USER], "userName": email}, headers=hr)
    assert user.status_code == 201, user.text
    member = {"value": user.json()["id"]}
    group = await client.post(
        f"{BASE}/Groups",
        json={"schemas": [GROUP], "displayName": "営業一部", "members": [member]},
        headers=hr,
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]

    # Renaming the group to a department that does not exist yet creates it (people), then the
    # unknown member refuses the whole change (groups): the new department must not stay.
    renamed = await client.put(
        f"{BASE}/Groups/{group_id}",
        json={
            "schemas": [GROUP],
            "displayName": "新設 企画部",
            "members": [member, {"value": str(uuid.uuid4())}],
        },
        headers=hr,
    )
    assert renamed.status_code == 400, renamed.text
    assert await count(app, Department, Department.name == "新設 企画部") == 0
    after = (await client.get(f"{BASE}/Groups/{group_id}", headers=hr)).json()
    assert after["displayName"] == "営業一部"
    assert {m["value"] for m in after["members"]} == {member["value"]}


async def test_a_commit_inside_a_use_case_is_refused_and_nothing_lands(app):
    key = unique("dept")
    async with app.state.sessionmaker() as session:
        with pytest.raises(RuntimeError, match="commit inside a use case"):
            async with use_case(session):
                await people_service.create_department(
                    session, OPERATOR, DepartmentCreate(key=key, name="経理部")
                )
                await session.commit()
    assert await count(app, Department, Department.key == key) == 0


def test_overlapping_batches_share_one_collector_pause_and_restore_what_was_there():
    assert gc.isenabled()
    first, second = ingest.collector_paused(), ingest.collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first batch ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()

    gc.disable()  # paused by someone else: a batch leaves it paused
    try:
        with ingest.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
