"""Where the story breaks: the overlap measure in Japanese and English (service/briefs/story.py),
and readiness's `story_gaps` over real checks, submitted and graded through the API."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.briefs import story
from service.campaigns import readiness as readiness_service
from tests.campaigns.helpers import GUT_CHECK, make_campaign, readiness
from tests.campaigns.test_readiness import grade, who
from tests.factories import bearer, make_brief, make_department, make_person, make_product, service_token
from tests.test_graphql import gql

# --- the measure --------------------------------------------------------------------------------

JA = {
    "value_proposition": "請求書の入力時間を週3時間減らす",
    "differences": ["読み取りから仕訳まで自動", "今の会計ソフトをそのまま使える"],
    "evidence": ["パイロット5社で入力時間が週3時間減少"],
    "next_action": "無料トライアルで先月分の請求書を読み込む",
}
JA_PITCHES = {
    # the value, in other words: nothing else
    "value_only": "請求書を読み取って会計ソフトに自動で入れるので、経理の入力が週3時間減ります。",
    "value_evidence_next": "請求書の入力時間が週3時間減ります。パイロット5社でも入力時間が週3時間減少しました。"
    "まずは無料トライアルで先月分の請求書を読み込んでみてください。",
    "differences_only": "読み取りから仕訳まで全部自動です。今の会計ソフトをそのまま使えます。",
}
EN = {
    "value_proposition": "Cuts invoice entry time by three hours a week",
    "differences": [
        "Reads invoices and books them without typing",
        "Works with the accounting software you already use",
    ],
    "evidence": ["Five pilot customers saved three hours of entry a week", "Input errors fell by 40%"],
    "next_action": "Start a free trial with last month's invoices",
}
EN_PITCHES = {
    "value_difference_evidence": "It reads your invoices and books them automatically, so nobody types "
    "them: invoice entry takes three hours less every week.",
    "software_evidence_next": "It works with your existing accounting software. Input errors fell 40% "
    "for pilots. Try it free with last month's invoices.",
    "nothing": "A great product for finance teams.",
}
PARTS = ["value_proposition", "differentiator:1", "differentiator:2", "evidence", "next_action"]


def story_of(brief: dict) -> list[story.Part]:
    return story.parts(
        brief["value_proposition"], brief["differences"], brief["evidence"], brief["next_action"]
    )


def test_english_units_are_content_words_with_inflections_folded():
    assert story.units("The invoices are read, and we reduce errors") == {"invoic", "read", "reduc", "error"}
    assert story.units("reduces reduced reducing") == story.units("Reduce")
    assert story.units("running companies boxes") == {"run", "company", "box"}
    assert story.units("three free") == {"three", "free"}
    assert story.units("of the and to a") == frozenset()


def test_japanese_units_are_character_bigrams_without_hiragana_only_pairs():
    assert story.units("請求書を読む") == {"請求", "求書", "書を", "を読", "読む"}  # "読む" has kanji: kept
    assert "ます" not in story.units("減ります")
    assert story.units("経理") == {"経理"}
    assert story.units("週") == {"週"}  # a run of one character is a unit itself
    # Full-width figures and letters are the same units as half-width ones.
    assert story.units("週３時間、ＰＤＦ") == story.units("週3時間、PDF")
    assert story.units("週3時間") == {"週", "3", "時間"}


def test_overlap_is_the_share_of_the_part_said_again():
    assert story.overlap(JA["value_proposition"], JA_PITCHES["value_only"]) == 7 / 12
    assert story.overlap(EN["value_proposition"], EN_PITCHES["value_difference_evidence"]) == 5 / 7
    assert story.overlap("", "anything") is None
    assert story.overlap("経理の残業", "") == 0.0


def test_a_part_is_told_when_at_least_half_of_it_comes_back():
    ja, en = story_of(JA), story_of(EN)
    assert [p.name for p in ja] == [p.name for p in en] == PARTS
    assert story.told(ja, JA_PITCHES["value_only"]) == [True, False, False, False, False]
    assert story.told(ja, JA_PITCHES["value_evidence_next"]) == [True, False, False, True, True]
    assert story.told(ja, JA_PITCHES["differences_only"]) == [False, True, True, False, False]
    assert story.told(en, EN_PITCHES["value_difference_evidence"]) == [True, True, False, True, False]
    # One cited claim is enough evidence (here the second one).
    assert story.told(en, EN_PITCHES["software_evidence_next"]) == [False, False, True, True, True]
    assert story.told(en, EN_PITCHES["nothing"]) == [False] * 5


def test_empty_parts_are_not_parts():
    found = story.parts("", ["", "Reads invoices"], [], "the")
    assert [p.name for p in found] == ["differentiator:2"]  # numbered by the brief's order


# --- through the API ------------------------------------------------------------------------------


def brief_fields(content: dict, locale: str) -> dict:
    return {
        "locale": locale,
        "value_proposition": content["value_proposition"],
        "differentiators": [
            {"alternative": "手入力" if locale == "ja" else "manual entry", "difference": d, "trade_off": "-"}
            for d in content["differences"]
        ],
        "evidence": [{"kind": "metric", "claim": c, "source": "pilot 2026"} for c in content["evidence"]],
        "customer_next_action": content["next_action"],
        **({} if locale == "ja" else {"pitch": "Invoices typed for you: three hours back every week."}),
    }


async def graded_check(
    client: httpx.AsyncClient, app: FastAPI, person, campaign_id, pitch: str, result: str, grader: dict
) -> None:
    """`person` says the pitch in their own words; `grader` grades it (`result`), or nobody ("")."""
    response = await client.post(
        f"/api/v1/campaigns/{campaign_id}/checks",
        json={**GUT_CHECK, "pitch_in_own_words": pitch},
        headers=who(app, person),
    )
    assert response.status_code == 201, response.text
    if result:
        graded = await grade(client, grader, response.json()["id"], result)
        assert graded.status_code == 200, graded.text


def gaps(body: dict) -> dict[str, tuple[float | None, int]]:
    return {g["part"]: (g["share"], g["graded"]) for g in body["story_gaps"]}


async def test_readiness_reports_which_parts_people_leave_out_in_japanese_and_english(app, client, callers):
    editor = callers.headers("editor")
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="サポート部")
    sales_manager = await make_person(app, role="manager", department_key="sales")
    author = await make_person(app, role="editor")
    ja_brief = await make_brief(
        app, author, (await make_product(app)).key, status="published", **brief_fields(JA, "ja")
    )
    en_brief = await make_brief(
        app, author, (await make_product(app)).key, status="published", **brief_fields(EN, "en")
    )
    audience = {"departments": ["sales", "support"], "roles": ["employee"]}
    ja_campaign = await make_campaign(app, brief=ja_brief, **audience)
    en_campaign = await make_campaign(app, brief=en_brief, **audience)
    s1, s2, s3 = [await make_person(app, department_key="sales") for _ in range(3)]
    t1 = await make_person(app, department_key="support")

    # Before any grade, the parts are there with nothing measured.
    assert gaps(await readiness(client, editor, ja_campaign.id)) == {part: (None, 0) for part in PARTS}

    await graded_check(client, app, s1, ja_campaign.id, JA_PITCHES["value_only"], "passed", editor)
    await graded_check(
        client, app, s2, ja_campaign.id, JA_PITCHES["value_evidence_next"], "needs_work", editor
    )
    await graded_check(client, app, t1, ja_campaign.id, JA_PITCHES["differences_only"], "passed", editor)
    await graded_check(
        client, app, s3, ja_campaign.id, JA_PITCHES["differences_only"], "", editor
    )  # not graded yet
    body = await readiness(client, editor, ja_campaign.id)
    assert list(gaps(body)) == PARTS
    assert gaps(body) == {
        "value_proposition": (0.3333, 3),  # t1 left it out
        "differentiator:1": (0.6667, 3),  # s1 and s2
        "differentiator:2": (0.6667, 3),
        "evidence": (0.6667, 3),  # s1 and t1
        "next_action": (0.6667, 3),
    }
    # A manager's shares are over their own department's checks only.
    assert gaps(await readiness(client, who(app, sales_manager), ja_campaign.id)) == {
        "value_proposition": (0.0, 2),
        "differentiator:1": (1.0, 2),
        "differentiator:2": (1.0, 2),
        "evidence": (0.5, 2),
        "next_action": (0.5, 2),
    }
    # An integration that reads campaigns (but not briefs) sees the same shares, not the words.
    reader = bearer(await service_token(app, client, "campaigns:read"))
    assert gaps(await readiness(client, reader, ja_campaign.id)) == gaps(body)

    await graded_check(
        client, app, s1, en_campaign.id, EN_PITCHES["value_difference_evidence"], "passed", editor
    )
    await graded_check(
        client, app, s2, en_campaign.id, EN_PITCHES["software_evidence_next"], "needs_work", editor
    )
    await graded_check(client, app, t1, en_campaign.id, EN_PITCHES["nothing"], "needs_work", editor)
    english = await readiness(client, editor, en_campaign.id)
    assert gaps(english) == {
        "value_proposition": (0.6667, 3),
        "differentiator:1": (0.6667, 3),
        "differentiator:2": (0.6667, 3),
        "evidence": (0.3333, 3),
        "next_action": (0.6667, 3),
    }

    # GraphQL answers the same through the same service.
    query = "query($id: ID!) { campaignReadiness(campaignId: $id) { storyGaps { part share graded } } }"
    status, found = await gql(client, query, editor, {"id": str(en_campaign.id)})
    assert status == 200 and "errors" not in found, found
    assert found["data"]["campaignReadiness"]["storyGaps"] == english["story_gaps"]


async def test_each_check_is_measured_against_the_version_it_answered(app, client, callers, monkeypatch):
    editor, admin = callers.headers("editor"), callers.headers("admin")
    brief = await make_brief(
        app,
        callers.people["editor"],
        (await make_product(app)).key,
        status="published",
        **brief_fields(EN, "en"),
    )
    campaign = await make_campaign(app, brief=brief, roles=["employee"])
    first, second = await make_person(app), await make_person(app)
    pitch = EN_PITCHES["value_difference_evidence"]
    await graded_check(client, app, first, campaign.id, pitch, "passed", editor)

    # A minor fix adds a third differentiator: answers on version 1 still count, and only the
    # checks on version 2 are measured against the new part.
    revised = await client.post(f"/api/v1/briefs/{brief.id}/revise", json={"change": "minor"}, headers=editor)
    assert revised.status_code == 201, revised.text
    draft = revised.json()
    third = {"alternative": "OCR tools", "difference": "Learns each supplier's layout", "trade_off": "-"}
    patched = await client.patch(
        f"/api/v1/briefs/{draft['id']}",
        json={"differentiators": [*draft["differentiators"], third]},
        headers={
            **editor,
            "If-Match": (await client.get(f"/api/v1/briefs/{draft['id']}", headers=editor)).headers["etag"],
        },
    )
    assert patched.status_code == 200, patched.text
    assert (await client.post(f"/api/v1/briefs/{draft['id']}/submit", headers=editor)).status_code == 200
    assert (await client.post(f"/api/v1/briefs/{draft['id']}/approve", headers=admin)).status_code == 200
    assert gaps(await readiness(client, editor, campaign.id))["differentiator:3"] == (None, 0)

    await graded_check(
        client, app, second, campaign.id, pitch + " It learns each supplier's layout.", "passed", editor
    )
    assert gaps(await readiness(client, editor, campaign.id)) == {
        "value_proposition": (0.0, 2),
        "differentiator:1": (0.0, 2),
        "differentiator:2": (1.0, 2),
        "differentiator:3": (0.0, 1),
        "evidence": (0.0, 2),
        "next_action": (1.0, 2),
    }
    # Only the latest graded checks are measured (a bound on the work per read): here, one.
    monkeypatch.setattr(readiness_service, "STORY_GAPS_LATEST", 1)
    app.state.read_cache.invalidate_all()  # the code changed under the answer kept above
    assert gaps(await readiness(client, editor, campaign.id)) == {
        "value_proposition": (0.0, 1),
        "differentiator:1": (0.0, 1),
        "differentiator:2": (1.0, 1),
        "differentiator:3": (0.0, 1),
        "evidence": (0.0, 1),
        "next_action": (1.0, 1),
    }
