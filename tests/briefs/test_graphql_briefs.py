"""Briefs, evidence, messages and the current pitch over GraphQL: the same services as REST,
their workflow and refusals, and nested fields that batch (statements per page do not grow)."""

from __future__ import annotations

from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from service.config import Settings
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate
from service.main import create_app
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from tests.factories import (
    JA_PITCH,
    OPERATOR,
    Callers,
    bearer,
    complete_brief,
    counting_statements,
    make_brief,
    make_person,
    make_product,
    notices_settled,
    token_for,
)
from tests.test_graphql import error_codes, gql, only_error

BRIEF_FIELDS = "id version status locale title etag productKey pains { kind text } evidence { id claim }"
CREATE = f"mutation($input: BriefInput!) {{ createBrief(input: $input) {{ {BRIEF_FIELDS} }} }}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def brief_input(product_key: str, **overrides: Any) -> dict[str, Any]:
    """complete_brief() as GraphQL variables: camelCase keys, enum names for kinds."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {_camel(k): (v.upper() if k == "kind" else convert(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(complete_brief(product_key, **overrides))


async def create_brief(client: httpx.AsyncClient, headers: dict[str, str], data: dict[str, Any]) -> dict:
    status, body = await gql(client, CREATE, headers, {"input": data})
    assert status == 200
    assert "errors" not in body, body
    return body["data"]["createBrief"]


async def call(
    client: httpx.AsyncClient, headers: dict[str, str], mutation: str, brief_id: str, fields: str = "status"
) -> dict[str, Any]:
    _, body = await gql(client, f'mutation {{ {mutation}(id: "{brief_id}") {{ {fields} }} }}', headers)
    return body


# --- the workflow ----------------------------------------------------------------------------


async def test_workflow_from_draft_to_the_current_pitch_in_japanese(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    editor, manager = callers.headers("editor"), callers.headers("manager")

    draft = await create_brief(client, editor, brief_input(product.key))
    assert draft["status"] == "DRAFT"
    assert draft["version"] == 1
    assert draft["locale"] == "ja"
    assert draft["productKey"] == product.key
    assert draft["pains"][0] == {"kind": "DISSATISFACTION", "text": "月末に請求書の手入力で残業が続く"}
    assert [e["claim"] for e in draft["evidence"]] == ["パイロット5社で入力時間が週3時間減少"]
    assert draft["etag"].startswith('"v')

    # An incomplete draft is refused with every missing part at once.
    empty = await create_brief(
        client, editor, {"productKey": product.key, "title": "空のブリーフ", "locale": "ja"}
    )
    body = await call(client, editor, "submitBrief", empty["id"])
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert {e["field"] for e in error["extensions"]["errors"]} == {
        "pains",
        "differentiators",
        "evidence",
        "gut_check.who_changes",
        "gut_check.next_action",
        "gut_check.what_we_give_up",
        "pitch",
    }

    body = await call(client, editor, "submitBrief", draft["id"])
    assert body["data"]["submitBrief"] == {"status": "IN_REVIEW"}, body

    # Four eyes: the last editor may not approve the version.
    body = await call(client, editor, "approveBrief", draft["id"])
    assert error_codes(body) == ["FORBIDDEN"]
    _, body = await gql(client, f'{{ currentPitch(productKey: "{product.key}") {{ version }} }}', editor)
    assert error_codes(body) == ["NOT_FOUND"]  # nothing is published yet

    body = await call(client, manager, "approveBrief", draft["id"], "status publishedAt")
    assert body["data"]["approveBrief"]["status"] == "PUBLISHED", body
    assert body["data"]["approveBrief"]["publishedAt"]

    _, body = await gql(
        client,
        f'{{ currentPitch(productKey: "{product.key}", locale: "ja") {{ productKey locale briefId version'
        " pitch valueProposition pains { kind text } differentiators { alternative tradeOff }"
        " gutCheck { whoChanges } evidence { kind claim } freshness { status expired } etag } }",
        callers.headers("employee"),
    )
    assert "errors" not in body, body
    pitch = body["data"]["currentPitch"]
    assert pitch["productKey"] == product.key
    assert pitch["locale"] == "ja"
    assert pitch["briefId"] == draft["id"]
    assert pitch["version"] == 1
    assert pitch["pitch"] == JA_PITCH
    assert pitch["valueProposition"] == "請求書の入力時間を週3時間減らす"
    assert pitch["pains"][1] == {"kind": "ANXIETY", "text": "入力ミスで支払いを誤るのが怖い"}
    assert pitch["differentiators"] == [{"alternative": "手入力", "tradeOff": "手書きの請求書には対応しない"}]
    assert pitch["gutCheck"] == {"whoChanges": "経理担当者が月末の残業から解放される"}
    assert pitch["evidence"] == [{"kind": "METRIC", "claim": "パイロット5社で入力時間が週3時間減少"}]
    assert pitch["freshness"] == {"status": "FRESH", "expired": []}
    assert pitch["etag"].startswith('"')

    # Published versions are immutable; a revision opens version 2 and keeps the history.
    _, body = await gql(
        client,
        f'mutation {{ updateBrief(id: "{draft["id"]}", input: {{title: "改訂"}}, ifMatch: "*") {{ id }} }}',
        editor,
    )
    assert error_codes(body) == ["CONFLICT"]
    _, body = await gql(
        client,
        f'mutation {{ reviseBrief(id: "{draft["id"]}", change: MINOR) {{ version status change'
        " versions { version status } } }",
        editor,
    )
    assert body["data"]["reviseBrief"] == {
        "version": 2,
        "status": "DRAFT",
        "change": "MINOR",
        "versions": [{"version": 1, "status": "PUBLISHED"}, {"version": 2, "status": "DRAFT"}],
    }, body


async def test_request_changes_and_archive(app: FastAPI, client: httpx.AsyncClient, callers: Callers) -> None:
    product = await make_product(app)
    editor, manager = callers.headers("editor"), callers.headers("manager")
    draft = await create_brief(client, editor, brief_input(product.key))
    await call(client, editor, "submitBrief", draft["id"])

    _, body = await gql(
        client,
        f'mutation {{ requestBriefChanges(id: "{draft["id"]}", comment: "  ") {{ status }} }}',
        manager,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]  # an empty comment says nothing
    _, body = await gql(
        client,
        f'mutation {{ requestBriefChanges(id: "{draft["id"]}", comment: "根拠をもう一つ") '
        "{ status reviewComment } }",
        manager,
    )
    assert body["data"]["requestBriefChanges"] == {"status": "DRAFT", "reviewComment": "根拠をもう一つ"}

    body = await call(client, manager, "archiveBrief", draft["id"])
    assert error_codes(body) == ["FORBIDDEN"]  # managers review, they do not write
    body = await call(client, editor, "archiveBrief", draft["id"])
    assert body["data"]["archiveBrief"] == {"status": "ARCHIVED"}


# --- concurrency and input -------------------------------------------------------------------


async def test_update_brief_requires_a_current_if_match(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    editor = callers.headers("editor")
    draft = await create_brief(client, editor, brief_input(product.key))
    update = (
        'mutation($id: ID!, $ifMatch: String) { updateBrief(id: $id, input: {title: "新しいタイトル"},'
        " ifMatch: $ifMatch) { title etag } }"
    )

    _, body = await gql(client, update, editor, {"id": draft["id"]})
    assert error_codes(body) == ["PRECONDITION_REQUIRED"]

    _, body = await gql(client, update, editor, {"id": draft["id"], "ifMatch": '"v999"'})
    assert error_codes(body) == ["PRECONDITION_FAILED"]

    _, body = await gql(client, update, editor, {"id": draft["id"], "ifMatch": draft["etag"]})
    assert "errors" not in body, body
    updated = body["data"]["updateBrief"]
    assert updated["title"] == "新しいタイトル"
    assert updated["etag"] != draft["etag"]

    # The ETag just used is stale now.
    _, body = await gql(client, update, editor, {"id": draft["id"], "ifMatch": draft["etag"]})
    assert error_codes(body) == ["PRECONDITION_FAILED"]


async def test_patch_replaces_lists_and_cites_evidence_by_id(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    editor = callers.headers("editor")
    draft = await create_brief(client, editor, brief_input(product.key))
    _, body = await gql(
        client,
        'mutation { createEvidence(input: {kind: QUOTE, claim: "もう手入力には戻れない", source: "B社 経理部長"})'
        " { id kind ownerId etag } }",
        editor,
    )
    quote = body["data"]["createEvidence"]
    assert quote["kind"] == "QUOTE"
    assert quote["ownerId"] == str(callers.people["editor"].id)

    _, body = await gql(
        client,
        "mutation($id: ID!, $etag: String, $input: BriefPatch!) {"
        " updateBrief(id: $id, input: $input, ifMatch: $etag) { pains { kind } evidence { id } } }",
        editor,
        {
            "id": draft["id"],
            "etag": draft["etag"],
            "input": {
                "pains": [{"kind": "INCONVENIENCE", "text": "紙の請求書を探すのに時間がかかる"}],
                "evidence": [
                    {"id": quote["id"]},
                    {"kind": "SMALL_WIN", "claim": "初日に10件", "source": "C社"},
                ],
            },
        },
    )
    assert "errors" not in body, body
    updated = body["data"]["updateBrief"]
    assert updated["pains"] == [{"kind": "INCONVENIENCE"}]
    assert len(updated["evidence"]) == 2
    assert updated["evidence"][0] == {"id": quote["id"]}


async def test_invalid_input_is_bad_user_input_and_anonymous_learns_nothing(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    bad = brief_input(product.key, evidence=[{"id": "not-a-uuid"}])
    _, body = await gql(client, CREATE, callers.headers("editor"), {"input": bad})
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["errors"]

    unknown = brief_input("no-such-product")
    _, body = await gql(client, CREATE, callers.headers("editor"), {"input": unknown})
    assert only_error(body)["extensions"]["errors"][0]["field"] == "product_key"

    _, body = await gql(client, CREATE, {}, {"input": bad})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    _, body = await gql(client, CREATE, callers.headers("employee"), {"input": brief_input(product.key)})
    assert error_codes(body) == ["FORBIDDEN"]


# --- visibility --------------------------------------------------------------------------------


async def test_employees_and_integrations_do_not_see_drafts(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    author = callers.people["editor"]
    draft = await make_brief(app, author, product.key)
    published = await make_brief(app, author, (await make_product(app)).key, status="published")
    query = '{ brief(id: "%s") { id status } }'

    _, body = await gql(client, query % draft.id, callers.headers("employee"))
    assert error_codes(body) == ["NOT_FOUND"]
    _, body = await gql(client, query % published.id, callers.headers("employee"))
    assert body["data"]["brief"] == {"id": str(published.id), "status": "PUBLISHED"}
    for caller in ("manager", "editor", "admin"):
        _, body = await gql(client, query % draft.id, callers.headers(caller))
        assert body["data"]["brief"]["status"] == "DRAFT", caller

    _, body = await gql(client, "{ briefs { edges { node { id } } } }", callers.headers("employee"))
    assert [e["node"]["id"] for e in body["data"]["briefs"]["edges"]] == [str(published.id)]
    _, body = await gql(client, query % draft.id, callers.headers("svc_pitch"))
    assert error_codes(body) == ["NOT_FOUND"]

    # A message on the draft: drafts stay invisible through Message.brief too.
    async with app.state.sessionmaker() as session:
        message = await messages_service.create_message(
            session, OPERATOR, MessageCreate(brief_id=draft.id, kind="key_message", title="下書きの話")
        )
        await messages_service.submit_message(session, OPERATOR, message.id)
        await messages_service.publish_message(session, OPERATOR, message.id)
    _, body = await gql(
        client, f'{{ message(id: "{message.id}") {{ title brief {{ id }} }} }}', callers.headers("employee")
    )
    assert body["data"]["message"] == {"title": "下書きの話", "brief": None}, body


async def test_brief_messages_follow_the_message_policy(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    editor = callers.headers("editor")
    create = (
        "mutation($input: MessageInput!) { createMessage(input: $input) {"
        " id status productKey locale etag metric { value unit } warnings { field word } } }"
    )
    _, body = await gql(
        client,
        create,
        editor,
        {
            "input": {
                "briefId": str(brief.id),
                "kind": "VALUE_TRANSLATION",
                "title": "AI-OCR → 入力時間が週3時間減る",
                "featureTerm": "AI-OCR",
                "valueStatement": "経理担当者の入力時間が週3時間減る",
                "metric": {"value": 3, "unit": "hours/week", "basis": "パイロット5社"},
                "evidenceIds": [str(brief.evidence[0].id)],
            }
        },
    )
    assert "errors" not in body, body
    created = body["data"]["createMessage"]
    assert created["status"] == "DRAFT"
    assert created["productKey"] == product.key
    assert created["locale"] == "ja"  # the brief's locale
    assert created["metric"] == {"value": 3.0, "unit": "hours/week"}

    nested = f'{{ brief(id: "{brief.id}") {{ messages {{ id evidence {{ claim }} brief {{ id }} }} }} }}'
    _, body = await gql(client, nested, callers.headers("employee"))
    assert body["data"]["brief"]["messages"] == []  # a draft message is not theirs to see
    _, body = await gql(client, nested, editor)
    assert body["data"]["brief"]["messages"] == [
        {
            "id": created["id"],
            "evidence": [{"claim": "パイロット5社で入力時間が週3時間減少"}],
            "brief": {"id": str(brief.id)},
        }
    ]

    _, body = await gql(client, f'mutation {{ submitMessage(id: "{created["id"]}") {{ status }} }}', editor)
    assert body["data"]["submitMessage"] == {"status": "IN_REVIEW"}
    _, body = await gql(
        client, f'mutation {{ publishMessage(id: "{created["id"]}") {{ status }} }}', callers.headers("admin")
    )
    assert body["data"]["publishMessage"] == {"status": "PUBLISHED"}
    _, body = await gql(client, nested, callers.headers("employee"))
    assert [m["id"] for m in body["data"]["brief"]["messages"]] == [created["id"]]

    _, body = await gql(
        client,
        f'mutation {{ updateMessage(id: "{created["id"]}", input: {{body: "高性能"}}) {{ id }} }}',
        editor,
    )
    assert error_codes(body) == ["PRECONDITION_REQUIRED"]

    _, body = await gql(
        client,
        f'{{ messages(briefId: "{brief.id}", audience: "all") {{ edges {{ node {{ id }} }} }} }}',
        editor,
    )
    assert [e["node"]["id"] for e in body["data"]["messages"]["edges"]] == [created["id"]]
    _, body = await gql(client, '{ messages(audience: "bad audience%") { edges { node { id } } } }', editor)
    assert error_codes(body) == ["BAD_USER_INPUT"]


# --- DataLoaders: statements per page ----------------------------------------------------------

PAGE_WITH_NESTED = (
    "query($first: Int!) { briefs(first: $first) { edges { node { title product { key }"
    " evidence { claim } messages { title evidence { claim } } versions { version } } } } }"
)


async def test_statements_per_page_of_briefs_do_not_grow_with_its_size(
    app: FastAPI, settings: Settings
) -> None:
    author = await make_person(app, role="editor")
    reviewer = await make_person(app, role="manager")
    products = [await make_product(app, name=f"製品 {i}") for i in range(5)]
    async with app.state.sessionmaker() as session:
        shared = await evidence_service.create_evidence(
            session, OPERATOR, EvidenceCreate(kind="case", claim="A社で月末残業がゼロに", source="A社")
        )
    briefs = []
    for i in range(50):
        status = "published" if i % 3 == 0 else "draft"  # several published per product: superseded too
        briefs.append(
            await make_brief(
                app, author, products[i % 5].key, status=status, reviewer=reviewer, title=f"案 {i}"
            )
        )
    async with app.state.sessionmaker() as session:
        for i, brief in enumerate(briefs):
            message = await messages_service.create_message(
                session,
                OPERATOR,
                MessageCreate(
                    brief_id=brief.id,
                    kind="key_message",
                    title=f"メッセージ {i}",
                    evidence_ids=[brief.evidence[0].id, shared.id],
                ),
            )
            if i % 2 == 0:
                await messages_service.submit_message(session, OPERATOR, message.id)
                await messages_service.publish_message(session, OPERATOR, message.id)
    headers = bearer(token_for(app, await make_person(app, role="admin")))
    # Priced at its worst case (50 briefs x 200 messages x 50 evidence), this page is over the
    # default GraphQL cost limit; here the statements are measured, so an app with room.
    roomy = create_app(settings.model_copy(update={"graphql_max_cost": 10**8}))
    async with (
        LifespanManager(roomy),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=roomy), base_url="http://testserver") as client,
    ):
        counts = await _statements_per_page(roomy, client, headers, products)
    print(f"SQL statements per page of briefs: {counts}")
    assert counts[5] == counts[50], f"statements per page grew with its size: {counts}"


async def _statements_per_page(
    app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], products: list[Any]
) -> dict[int, int]:
    await notices_settled(app)
    await gql(client, PAGE_WITH_NESTED, headers, {"first": 50})  # warm the pool and the caller
    counts = {}
    for first in (5, 50):
        async with counting_statements(app) as statements:
            status, body = await gql(client, PAGE_WITH_NESTED, headers, {"first": first})
        assert status == 200
        assert "errors" not in body, body
        nodes = [edge["node"] for edge in body["data"]["briefs"]["edges"]]
        assert len(nodes) == first
        assert all(node["product"]["key"] in {p.key for p in products} for node in nodes)
        assert all(len(node["evidence"]) == 1 and len(node["versions"]) == 1 for node in nodes)
        assert all(len(node["messages"]) == 1 for node in nodes)
        assert all(len(node["messages"][0]["evidence"]) == 2 for node in nodes)
        counts[first] = len(statements)
    return counts
