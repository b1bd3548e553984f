"""Notifications about work: reviewers when a brief waits, its author when it is approved,
graders when a check waits, the person when it is graded, whoever filed feedback when it is
decided and announced (the announcement quoted), each filer once when a theme is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.db import use_case
from service.events.models import OutboxEvent
from service.notifications import fanout
from tests.campaigns.helpers import make_campaign, submit_check
from tests.factories import bearer, make_brief, make_department, make_person, make_product, token_for
from tests.feedback.test_loop import filed_feedback_id, move
from tests.messages.test_messages import published_message_id
from tests.notifications.helpers import drive, notifications, set_preferences
from tests.notifications.test_fanout import add_destination


async def test_reviewers_hear_a_brief_waits_and_its_author_when_approved(app, client):
    author = await make_person(app, role="editor", display_name="起草 者")
    reviewer = await make_person(app, role="manager", locale="ja")
    other_editor = await make_person(app, role="editor")
    employee = await make_person(app)
    await set_preferences(
        client, bearer(token_for(app, other_editor)), kinds={"review_waiting": {"email": False}}
    )
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, status="in_review")
    await drive(app)
    waiting = await notifications(app, kind="review_waiting")
    assert {(r.person_id, r.channel) for r in waiting} == {
        (reviewer.id, "intranet"),
        (reviewer.id, "email"),
        (other_editor.id, "intranet"),  # opted out of the e-mail, still in the feed
    }
    mail = next(r for r in waiting if r.channel == "email")
    assert (
        mail.locale == "ja" and mail.data["item_type"] == "brief" and mail.data["item_title"] == brief.title
    )
    assert mail.data["author_name"] == "起草 者" and mail.data["link"] == f"/api/v1/briefs/{brief.id}"
    assert not await notifications(app, person_id=employee.id)
    assert not await notifications(app, person_id=author.id)

    approved = await client.post(
        f"/api/v1/briefs/{brief.id}/approve", headers=bearer(token_for(app, reviewer))
    )
    assert approved.status_code == 200, approved.text
    await drive(app)
    decided = await notifications(app, kind="review_decided")
    assert {(r.person_id, r.channel) for r in decided} == {(author.id, "intranet"), (author.id, "email")}
    assert decided[0].data["outcome"] == "approved" and decided[0].data["item_type"] == "brief"


async def test_a_message_in_review_tells_its_reviewers_and_its_author_what_they_decided(app, client):
    author = await make_person(app, role="editor", locale="ja", display_name="書き 手")
    reviewer = await make_person(app, role="editor", locale="en")
    employee = await make_person(app)
    as_author, as_reviewer = bearer(token_for(app, author)), bearer(token_for(app, reviewer))
    draft = await client.post(
        "/api/v1/messages",
        json={
            "kind": "talking_point",
            "title": "請求書の入力が週3時間減ります",
            "body": "月末の残業をなくす。",
        },
        headers=as_author,
    )
    assert draft.status_code == 201, draft.text
    message_id = draft.json()["id"]
    assert (await client.post(f"/api/v1/messages/{message_id}/submit", headers=as_author)).status_code == 200
    await drive(app)
    waiting = await notifications(app, kind="review_waiting", channel="email")
    assert reviewer.id in {r.person_id for r in waiting} and author.id not in {r.person_id for r in waiting}
    mail = next(r for r in waiting if r.person_id == reviewer.id)
    assert mail.data["item_type"] == "message" and mail.data["link"] == f"/api/v1/messages/{message_id}"
    assert mail.data["author_name"] == "書き 手" and mail.locale == "en"
    assert not await notifications(app, person_id=employee.id)

    back = await client.post(
        f"/api/v1/messages/{message_id}/request-changes",
        json={"comment": "数字の出典を添えてください"},
        headers=as_reviewer,
    )
    assert back.status_code == 200, back.text
    await drive(app)
    (sent_back,) = await notifications(app, kind="review_decided", channel="email")
    assert sent_back.person_id == author.id and sent_back.locale == "ja"
    assert (
        sent_back.data["outcome"] == "sent_back" and sent_back.data["comment"] == "数字の出典を添えてください"
    )

    assert (await client.post(f"/api/v1/messages/{message_id}/submit", headers=as_author)).status_code == 200
    approved = await client.post(f"/api/v1/messages/{message_id}/approve", headers=as_reviewer)
    assert approved.status_code == 200, approved.text
    await drive(app)
    decided = await notifications(app, kind="review_decided", channel="email")
    assert sorted(r.data["outcome"] for r in decided) == ["approved", "sent_back"]
    assert {r.person_id for r in decided} == {author.id}  # never the reviewer


async def test_graders_hear_a_check_waits_and_the_person_its_grade(app, client, callers):
    department = await make_department(app)
    boss = await make_person(app, role="manager", display_name="上司 さん")
    dept_manager = await make_person(app, role="manager", department_key=department.key)
    person = await make_person(
        app, department_key=department.key, manager_id=boss.id, display_name="新人 さん", locale="ja"
    )
    # They asked to hear about grades in chat too: posted to their department's channel, naming them.
    await set_preferences(client, bearer(token_for(app, person)), kinds={"check_graded": {"chat": True}})
    channel = await add_destination(app, department.key, "https://hooks.example.com/dept/EEEE")
    campaign = await make_campaign(app, departments=[department.key], roles=["employee"])
    submitted = await submit_check(client, bearer(token_for(app, person)), campaign.id)
    assert submitted.status_code == 201
    check = submitted.json()
    await drive(app)
    waiting = await notifications(app, kind="check_waiting", channel="email")
    assert {r.person_id for r in waiting} == {boss.id, dept_manager.id}
    assert waiting[0].data["person_name"] == "新人 さん" and waiting[0].data["campaign_name"] == campaign.name
    assert waiting[0].data["link"] == f"/api/v1/checks/{check['id']}"

    graded = await client.post(
        f"/api/v1/checks/{check['id']}/grade",
        json={"result": "needs_work", "comment": "お客様の次の行動を入れましょう"},
        headers=bearer(token_for(app, boss)),
    )
    assert graded.status_code == 200, graded.text
    await drive(app)
    told = await notifications(app, kind="check_graded")
    assert {(r.person_id, r.destination_id, r.channel) for r in told} == {
        (person.id, None, "intranet"),
        (person.id, None, "email"),
        (None, channel.id, "chat"),
    }
    post = next(r for r in told if r.channel == "chat")
    assert post.data["display_name"] == "新人 さん" and post.locale == "ja" and post.status == "pending"
    # Nobody else asked: the graders' check_waiting went to no channel.
    assert not await notifications(app, kind="check_waiting", channel="chat")
    mail = next(r for r in told if r.channel == "email")
    assert mail.locale == "ja" and mail.data["result"] == "needs_work"
    assert mail.data["comment"] == "お客様の次の行動を入れましょう"


async def test_whoever_filed_feedback_hears_the_decision_and_the_announcement(app, client, callers):
    filer = callers.people["employee"]
    item_id = await filed_feedback_id(app, filer, body="CSVの取り込みでエラーになる。毎月手で直している。")
    editor = callers.headers("editor")
    assert (await move(client, editor, item_id, to="triaged")).status_code == 200
    assert (
        await move(client, editor, item_id, to="decided", decision="build", rationale="10社から同じ声")
    ).status_code == 200
    await drive(app)
    (decided,) = await notifications(app, kind="feedback_decided", channel="email")
    assert decided.person_id == filer.id
    assert decided.data["decision"] == "build" and decided.data["rationale"] == "10社から同じ声"
    assert decided.data["excerpt"].startswith("CSVの取り込み")

    assert (await move(client, editor, item_id, to="implemented")).status_code == 200
    message_id = await published_message_id(app)
    assert (await move(client, editor, item_id, to="announced", message_id=message_id)).status_code == 200
    await drive(app)
    (announced,) = await notifications(app, kind="feedback_announced", channel="email")
    assert announced.person_id == filer.id and announced.data["link"] == f"/api/v1/feedback/{item_id}"
    assert announced.data["message_title"] == "私たちはお客様の仕事を速くする"
    assert announced.data["message_body"] == "PCではなく時間を売る。"
    # The feed keeps it.
    feed = (await client.get("/api/v1/me/feed", headers=callers.headers("employee"))).json()["items"]
    kinds = {i["notification_kind"] for i in feed if i["kind"] == "notification"}
    assert {"feedback_decided", "feedback_announced"} <= kinds


async def test_a_theme_decided_and_announced_tells_each_filer_once(app, client, callers):
    from tests.feedback.test_theme_decisions import make_theme

    filer, other = callers.people["employee"], await make_person(app, role="employee", locale="en")
    theme = await make_theme(app, "月末の締めが遅い")
    merged = await make_theme(app, "締め処理", merged_into=theme)
    mine = [await filed_feedback_id(app, filer, body=f"締めが遅い {n}") for n in range(3)]
    theirs = await filed_feedback_id(app, other, body="Month-end close is slow")
    editor = callers.headers("editor")
    for item_id, theme_id in [*((i, theme) for i in mine), (theirs, merged)]:
        assert (
            await client.patch(
                f"/api/v1/feedback/{item_id}", json={"theme_id": str(theme_id)}, headers=editor
            )
        ).status_code == 200
        assert (await move(client, editor, item_id, to="triaged")).status_code == 200
    await drive(app)
    decided = await client.post(
        f"/api/v1/themes/{theme}/transition",
        json={"to": "decided", "decision": "stop", "rationale": "精度が出ないため作らない"},
        headers=editor,
    )
    assert decided.status_code == 200 and decided.json()["moved"] == 4, decided.text
    await drive(app)
    told = await notifications(app, kind="feedback_decided", channel="email")
    assert sorted((r.person_id, r.data["items"]) for r in told) == sorted([(filer.id, 3), (other.id, 1)])
    mail = next(r for r in told if r.person_id == filer.id)
    assert mail.data["decision"] == "stop" and mail.data["rationale"] == "精度が出ないため作らない"
    assert mail.data["excerpt"] == "月末の締めが遅い" and mail.data["link"] == f"/api/v1/themes/{theme}"

    message_id = await published_message_id(app)
    announced = await client.post(
        f"/api/v1/themes/{theme}/transition",
        json={"to": "announced", "message_id": message_id},
        headers=editor,
    )
    assert announced.status_code == 200 and announced.json()["moved"] == 4, announced.text
    await drive(app)
    told = await notifications(app, kind="feedback_announced", channel="email")
    assert sorted(r.person_id for r in told) == sorted([filer.id, other.id])
    assert all(r.data["message_title"] == "私たちはお客様の仕事を速くする" for r in told)
    # Handing the theme's events on again (a replay) adds nothing.
    async with app.state.sessionmaker() as session, use_case(session):
        replayed = (
            await session.execute(sa.select(OutboxEvent).where(OutboxEvent.type == "theme.transitioned"))
        ).scalars()
        await fanout.fan_out(session, list(replayed))
    assert len(await notifications(app, kind="feedback_announced", channel="email")) == 2
    assert len(await notifications(app, kind="feedback_decided", channel="email")) == 2


async def test_the_author_hears_a_brief_was_sent_back_with_the_comment(app, client):
    author = await make_person(app, role="editor", locale="ja")
    reviewer = await make_person(app, role="manager")
    brief = await make_brief(app, author, (await make_product(app)).key, status="in_review")
    sent_back = await client.post(
        f"/api/v1/briefs/{brief.id}/request-changes",
        json={"comment": "顧客事例を追加してください"},
        headers=bearer(token_for(app, reviewer)),
    )
    assert sent_back.status_code == 200, sent_back.text
    await drive(app)
    (mail,) = await notifications(app, kind="review_decided", channel="email")
    assert mail.person_id == author.id and mail.locale == "ja"
    assert mail.data["outcome"] == "sent_back" and mail.data["comment"] == "顧客事例を追加してください"
    assert not await notifications(app, kind="review_decided", person_id=reviewer.id)


async def test_evidence_owners_hear_before_and_when_a_claim_expires(app):
    from service.evidence import service as evidence_service
    from service.evidence.schemas import EvidenceCreate
    from tests.campaigns.helpers import utc_today
    from tests.factories import OPERATOR
    from tests.test_clock import start_of

    owner = await make_person(app, role="editor", locale="ja")
    verify_by = utc_today() + timedelta(days=10)
    async with app.state.sessionmaker() as session:
        evidence = await evidence_service.create_evidence(
            session,
            OPERATOR,
            EvidenceCreate(
                kind="metric",
                claim="パイロット5社で入力時間が週3時間減少",
                source="2026年パイロット調査",
                verify_by=verify_by,
                owner_id=owner.id,
            ),
        )
    await make_brief(
        app, owner, (await make_product(app)).key, status="published", evidence=[{"id": str(evidence.id)}]
    )
    expires_at = start_of(verify_by + timedelta(days=1))
    await drive(app, datetime.now(UTC))
    (soon,) = await notifications(app, kind="evidence_expiring", channel="email")
    assert soon.person_id == owner.id and soon.locale == "ja"
    assert soon.data["claim"] == "パイロット5社で入力時間が週3時間減少"
    assert soon.data["expires_at"] == expires_at.isoformat().replace("+00:00", "Z")
    await drive(app, expires_at)
    (gone,) = await notifications(app, kind="evidence_expired", channel="email")
    assert (
        gone.data["expires_at"] == soon.data["expires_at"]
        and gone.data["link"] == f"/api/v1/evidence/{evidence.id}"
    )
