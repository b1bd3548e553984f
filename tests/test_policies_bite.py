"""Rules that a mutation run (`make mutants`) showed the rest of the suite would let change
unnoticed. Each test is written from the caller's side, over real HTTP and a real database."""

from __future__ import annotations

import uuid

import pytest

from service.auth.principal import Principal
from service.campaigns import policies as campaign_policies
from service.people import policies as people_policies
from service.people.models import Person
from service.products import policies as products_policies
from tests.campaigns.helpers import make_campaign
from tests.factories import bearer, make_brief, make_person, make_product, service_token, token_for

# ---------------------------------------------------------------- If-Match (service/concurrency.py)


async def test_if_match_compares_strongly_a_weak_tag_of_the_current_version_is_refused(app, client):
    editor = bearer(token_for(app, await make_person(app, role="editor")))
    campaign = await make_campaign(app)
    url = f"/api/v1/campaigns/{campaign.id}"
    current = (await client.get(url, headers=editor)).headers["etag"]
    assert not current.startswith("W/")

    # Without If-Match a required precondition is 428 and says what to send.
    missing = await client.patch(url, json={"name": "無条件"}, headers=editor)
    assert missing.status_code == 428
    assert missing.json()["detail"] == (
        "This resource changes concurrently: send If-Match with the ETag you last read."
    )

    # RFC 9110 §13.1.1: If-Match uses the strong comparison; W/"v1" never matches "v1".
    weak = await client.patch(url, json={"name": "弱い"}, headers={**editor, "If-Match": f"W/{current}"})
    assert weak.status_code == 412, weak.text
    assert (await client.get(url, headers=editor)).json()["name"] != "弱い"

    # A list naming the current tag among others matches; so does "*"; whitespace is no matter.
    listed = await client.patch(
        url, json={"name": "一覧"}, headers={**editor, "If-Match": f' "v999" ,{current} '}
    )
    assert listed.status_code == 200, listed.text
    after = listed.headers["etag"]
    assert after != current
    star = await client.patch(url, json={"name": "星"}, headers={**editor, "If-Match": "*"})
    assert star.status_code == 200, star.text
    # A list of no tags names no version; the old tag is stale now.
    empty = await client.patch(url, json={"name": "空"}, headers={**editor, "If-Match": " , "})
    assert empty.status_code == 412, empty.text
    stale = await client.patch(url, json={"name": "古い"}, headers={**editor, "If-Match": current})
    assert stale.status_code == 412
    assert stale.json()["detail"].endswith(star.headers["etag"] + ".")


async def test_if_none_match_compares_weakly_and_answers_304(app, client):
    editor = bearer(token_for(app, await make_person(app, role="editor")))
    campaign = await make_campaign(app)
    url = f"/api/v1/campaigns/{campaign.id}"
    current = (await client.get(url, headers=editor)).headers["etag"]

    for header in (current, f"W/{current}", f'"v999", W/{current}', "*"):
        response = await client.get(url, headers={**editor, "If-None-Match": header})
        assert response.status_code == 304, header
    for header in ('"v999"', 'W/"v999"', ", ,"):
        response = await client.get(url, headers={**editor, "If-None-Match": header})
        assert response.status_code == 200, header


# ---------------------------------------------------------------- pitch (service/pitch/policies.py)


async def test_a_briefs_read_integration_reads_the_pitch_but_reports_no_usage(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    url = f"/api/v1/pitch/{product.key}"

    briefs_reader = bearer(await service_token(app, client, "briefs:read"))
    assert (await client.get(url, headers=briefs_reader)).status_code == 200
    usage = await client.post(f"{url}/usage", json={"event": "shown"}, headers=briefs_reader)
    assert usage.status_code == 403, usage.text

    # Scopes are names, not prefixes or cases: another integration reads nothing.
    feedback_writer = bearer(await service_token(app, client, "feedback:write"))
    assert (await client.get(url, headers=feedback_writer)).status_code == 403
    pitch_reader = bearer(await service_token(app, client, "pitch:read"))
    assert (await client.get(url, headers=pitch_reader)).status_code == 200

    # The same scope reads published messages (an intranet shows them); others do not.
    assert (await client.get("/api/v1/messages", headers=briefs_reader)).status_code == 200
    assert (await client.get("/api/v1/messages", headers=feedback_writer)).status_code == 403


# ---------------------------------------------------------------- campaigns (service/campaigns/policies.py)
# The services check visibility before these rules (an unreadable check is a 404 first), so
# over HTTP a wrong `can_grade` hides behind `can_read_answers`. The rules are pure: each is
# proven here on its own, so neither depends on the other for being right.

SALES, SUPPORT = uuid.uuid4(), uuid.uuid4()
ANSWERER, BOSS = uuid.uuid4(), uuid.uuid4()


def person(role: str, *, department=None, person_id=None) -> Principal:
    person_id = person_id or uuid.uuid4()
    return Principal(
        kind="person", subject=f"person:{person_id}", role=role, person_id=person_id, department_id=department
    )


def service(*scopes: str) -> Principal:
    return Principal(kind="service", subject="client:x", client_id="x", scopes=frozenset(scopes))


# (caller, may read the answerer's answers, may grade them); the answerer is in sales, BOSS is
# their direct manager.
ANSWER_RULES = {
    "the answerer themself": (person("employee", department=SALES, person_id=ANSWERER), True, False),
    "an editor answering": (person("editor", department=SALES, person_id=ANSWERER), True, False),
    "their direct manager, elsewhere": (person("manager", department=SUPPORT, person_id=BOSS), True, True),
    "their direct manager, as employee": (person("employee", department=SUPPORT, person_id=BOSS), True, True),
    "a manager of their department": (person("manager", department=SALES), True, True),
    "a manager of another department": (person("manager", department=SUPPORT), False, False),
    "a manager of no department": (person("manager"), False, False),
    "a colleague": (person("employee", department=SALES), False, False),
    "an editor": (person("editor", department=SUPPORT), True, True),
    "an admin": (person("admin"), True, True),
    "the operator": (Principal.operator(), True, True),
    "a campaigns:read integration": (service("campaigns:read"), False, False),
}


@pytest.mark.parametrize("who", ANSWER_RULES)
@pytest.mark.parametrize("manager_on_record", [True, False])
def test_who_reads_and_grades_a_persons_answers(who, manager_on_record):
    caller, reads, grades = ANSWER_RULES[who]
    if not manager_on_record and caller.person_id == BOSS:
        reads = grades = False  # without the reporting line BOSS is just someone in support
    line = {"person_id": ANSWERER, "manager_id": BOSS if manager_on_record else None, "department_id": SALES}
    assert campaign_policies.can_read_answers(caller, **line) is reads
    assert campaign_policies.can_grade(caller, **line) is grades


def test_a_person_without_a_department_is_graded_by_no_department_manager():
    manager_of_none = person("manager")
    line = {"person_id": ANSWERER, "manager_id": None, "department_id": None}
    assert not campaign_policies.can_read_answers(manager_of_none, **line)
    assert not campaign_policies.can_grade(manager_of_none, **line)
    assert campaign_policies.can_grade(person("admin"), **line)


@pytest.mark.parametrize(
    ("caller", "manages", "sees_all", "readiness", "everyones_answers"),
    [
        (person("employee", department=SALES), False, False, (False, None), False),
        (person("manager", department=SALES), False, True, (True, SALES), False),
        (person("editor", department=SALES), True, True, (True, None), True),
        (person("admin"), True, True, (True, None), True),
        (Principal.operator(), True, True, (True, None), True),
        (service("campaigns:read"), False, True, (True, None), False),
        (service("pitch:read", "briefs:read", "people:write"), False, False, (False, None), False),
    ],
)
def test_who_runs_and_sees_campaigns(caller, manages, sees_all, readiness, everyones_answers):
    assert campaign_policies.can_manage(caller) is manages
    assert campaign_policies.sees_all_campaigns(caller) is sees_all
    assert campaign_policies.readiness_scope(caller) == readiness
    assert campaign_policies.sees_everyones_answers(caller) is everyones_answers


# ---------------------------------------------------------------- people and products (policies.py)


@pytest.mark.parametrize(
    ("caller", "directory", "manages_people", "manages_departments", "looks_up_emails"),
    [
        (person("employee"), True, False, False, True),
        (person("manager"), True, False, False, True),
        (person("editor"), True, False, False, True),
        (person("admin"), True, True, True, True),
        (Principal.operator(), True, True, True, True),
        (service("people:read"), True, False, False, True),
        (service("people:write", "people:read"), True, True, False, True),
        (service("feedback:write"), False, False, False, True),
        (service("pitch:read", "briefs:read", "campaigns:read", "feedback:read"), False, False, False, False),
    ],
)
def test_who_reads_and_changes_the_directory(
    caller, directory, manages_people, manages_departments, looks_up_emails
):
    assert people_policies.can_read_directory(caller) is directory
    assert people_policies.can_manage_people(caller) is manages_people
    assert people_policies.can_manage_departments(caller) is manages_departments
    assert people_policies.can_look_up_by_email(caller) is looks_up_emails
    assert products_policies.can_manage(caller) is manages_departments  # admins and the operator


def test_private_fields_are_seen_by_the_person_and_by_who_manages_people():
    subject = Person(id=ANSWERER, email="a@example.com", display_name="本人")
    assert people_policies.sees_private_fields(person("employee", person_id=ANSWERER), subject)
    assert not people_policies.sees_private_fields(person("manager", person_id=BOSS), subject)
    assert not people_policies.sees_private_fields(person("editor"), subject)
    assert not people_policies.sees_private_fields(service("people:read"), subject)
    assert people_policies.sees_private_fields(service("people:write"), subject)
    assert people_policies.sees_private_fields(person("admin"), subject)
