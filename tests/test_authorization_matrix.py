"""The authorization matrix: (route, caller) → expected status, for every route the app has.

Add a row for every new route (and a GraphQL row for every new root field): the
completeness tests fail when a route or field is missing, or a row names one that is gone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.accounts import matrix_rows as account_rows
from tests.auth import matrix_rows as client_rows
from tests.campaigns import matrix_rows as campaign_rows
from tests.factories import (
    ALL_CALLERS,
    complete_brief,
    make_brief,
    make_client,
    make_person,
    make_product,
    principal_of,
    unique,
)
from tests.matrix import ANY, Row, admin_only, authed
from tests.notifications import matrix_rows as notification_rows
from tests.scim import matrix_rows as scim_rows
from tests.sse import Stream
from tests.streams import matrix_rows as stream_rows
from tests.webhooks import matrix_rows as webhook_rows

DOMAIN_ROWS = (
    campaign_rows,
    scim_rows,
    client_rows,
    webhook_rows,
    stream_rows,
    notification_rows,
    account_rows,
)

PUBLIC = {ANY: 200}
WRITE_DRAFT = {
    "anonymous": 401,
    "employee": 404,
    "manager": 403,
    "editor": 200,
    "admin": 200,
    "svc_pitch": 404,
    "svc_people": 404,
}
REVIEW = {**WRITE_DRAFT, "manager": 200}
UNPUBLISHED_EVIDENCE = {"employee": 404, "svc_pitch": 404, "svc_people": 404}
EVIDENCE = {"kind": "case", "claim": "A社で月末残業がゼロに", "source": "A社インタビュー 2026-10"}


# Writers may act on the published message, and are refused as a conflict (already published).
WORKFLOW_ON_PUBLISHED_MESSAGE = {
    ANY: "FORBIDDEN",
    "editor": "CONFLICT",
    "admin": "CONFLICT",
    "svc_people": "NOT_FOUND",
    "anonymous": "UNAUTHENTICATED",
}

# Reviewers (managers too) may approve or send back, and are refused as a conflict.
REVIEW_ON_PUBLISHED_MESSAGE = {**WORKFLOW_ON_PUBLISHED_MESSAGE, "manager": "CONFLICT"}


async def fresh_published_message(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    from tests.messages.test_messages import published_message_id

    return {"message_id": await published_message_id(app)}


def fresh_brief(status: str) -> Callable[[Any, dict[str, Any]], Awaitable[dict[str, str]]]:
    """A new brief by a separate author (so no caller is its last editor), walked to `status`."""

    async def prepare(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
        product = await make_product(app)
        brief = await make_brief(app, ctx["author"], product.key, status=status)
        return {"brief_id": str(brief.id)}

    return prepare


async def published_product(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"product_key": ctx["pitch_key"]}


async def fresh_evidence(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    from service.evidence import service as evidence_service
    from service.evidence.schemas import EvidenceCreate

    async with app.state.sessionmaker() as session:
        item = await evidence_service.create_evidence(
            session, principal_of(ctx["author"]), EvidenceCreate(**EVIDENCE)
        )
    return {"evidence_id": str(item.id)}


MATRIX: dict[tuple[str, str], Row] = {
    # operations and documentation
    ("GET", "/"): Row(PUBLIC),
    ("GET", "/healthz"): Row(PUBLIC),
    ("GET", "/readyz"): Row(PUBLIC),
    ("GET", "/metrics"): Row(PUBLIC),
    ("GET", "/openapi.json"): Row(PUBLIC),
    ("GET", "/docs"): Row(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Row(PUBLIC),
    ("GET", "/graphql"): Row(PUBLIC, headers={"accept": "text/html"}),
    ("POST", "/graphql"): Row(authed(200, anonymous=200), body=lambda ctx: {"query": "{ __typename }"}),
    # auth: the token endpoint authenticates the client itself, whoever sends it
    ("POST", "/api/v1/auth/token"): Row(
        PUBLIC,
        form=lambda ctx: {
            "grant_type": "client_credentials",
            "client_id": ctx["client"][0],
            "client_secret": ctx["client"][1],
        },
    ),
    # directory
    ("GET", "/api/v1/departments"): Row(authed(200)),
    ("POST", "/api/v1/departments"): Row(
        admin_only(201), body=lambda ctx: {"key": unique("d"), "name": "営業部"}
    ),
    ("GET", "/api/v1/people"): Row(authed(200, svc_pitch=403)),
    ("POST", "/api/v1/people"): Row(
        admin_only(201, svc_people=201),
        body=lambda ctx: {"email": f"{unique('new')}@example.com", "display_name": "新人 花子"},
    ),
    ("GET", "/api/v1/people/{person_id}"): Row(authed(200, svc_pitch=403)),
    ("PATCH", "/api/v1/people/{person_id}"): Row(
        # Callers who cannot read the directory at all are told nothing exists.
        admin_only(200, svc_people=200, svc_pitch=404),
        body=lambda ctx: {"display_name": "改名 済み"},
    ),
    ("GET", "/api/v1/me"): Row(authed(200, svc_pitch=403, svc_people=403)),
    ("GET", "/api/v1/products"): Row(authed(200)),
    ("POST", "/api/v1/products"): Row(admin_only(201), body=lambda ctx: {"key": unique("p"), "name": "製品"}),
    ("GET", "/api/v1/products/{product_key}"): Row(authed(200)),
    # --- messages rows (service/messages) ---
    ("GET", "/api/v1/messages"): Row(authed(200, svc_people=403)),
    ("POST", "/api/v1/messages"): Row(
        {**admin_only(201), "editor": 201},
        body=lambda ctx: {"kind": "key_message", "title": "経理の残業を減らす", "audiences": ["all"]},
    ),
    ("POST", "/api/v1/messages/lint"): Row(
        authed(200), body=lambda ctx: {"locale": "ja", "text": "高性能で多機能"}
    ),
    # `message_id` is a published message: drafts would be 404 for employees and integrations.
    ("GET", "/api/v1/messages/{message_id}"): Row(authed(200, svc_people=403)),
    ("GET", "/api/v1/messages/{message_id}/versions"): Row(authed(200, svc_people=403)),
    # A published message is immutable: writers are refused as a conflict (revise instead).
    ("PATCH", "/api/v1/messages/{message_id}"): Row(
        {**admin_only(409), "editor": 409, "svc_people": 404},
        body=lambda ctx: {"body": "入力作業を週3時間減らします。"},
        headers={"If-Match": "*"},
    ),
    # The workflow on the published message: writers may act, and are refused as a conflict.
    ("POST", "/api/v1/messages/{message_id}/publish"): Row(
        {
            **admin_only(409),
            "editor": 409,
            "manager": 409,
            "svc_people": 404,
        }  # already published: allowed, refused as 409
    ),
    ("POST", "/api/v1/messages/{message_id}/approve"): Row(
        {**admin_only(409), "editor": 409, "manager": 409, "svc_people": 404}
    ),
    ("POST", "/api/v1/messages/{message_id}/submit"): Row(
        {**admin_only(409), "editor": 409, "svc_people": 404}
    ),
    ("POST", "/api/v1/messages/{message_id}/request-changes"): Row(
        {**admin_only(409), "editor": 409, "manager": 409, "svc_people": 404},
        body=lambda ctx: {"comment": "出典を"},
    ),
    # A fresh published message per caller: writers withdraw it or open its next version.
    ("POST", "/api/v1/messages/{message_id}/withdraw"): Row(
        {**admin_only(200), "editor": 200, "svc_people": 404}, prepare=fresh_published_message
    ),
    ("POST", "/api/v1/messages/{message_id}/revise"): Row(
        {**admin_only(201), "editor": 201, "svc_people": 404}, prepare=fresh_published_message
    ),
    # --- end messages rows ---
    # --- briefs, evidence and pitch rows ---
    ("GET", "/api/v1/briefs"): Row(authed(200, svc_pitch=403, svc_people=403)),
    ("POST", "/api/v1/briefs"): Row(
        {**admin_only(201), "editor": 201}, body=lambda ctx: complete_brief(ctx["product_key"])
    ),
    ("GET", "/api/v1/briefs/{brief_id}"): Row(authed(200, svc_pitch=404, svc_people=404)),
    ("GET", "/api/v1/briefs/{brief_id}/versions"): Row(authed(200, svc_pitch=404, svc_people=404)),
    # Drafts are invisible to employees and integrations (404); managers see but may not write.
    ("PATCH", "/api/v1/briefs/{brief_id}"): Row(
        WRITE_DRAFT,
        body=lambda ctx: {"title": "改訂タイトル"},
        headers={"If-Match": "*"},
        prepare=fresh_brief("draft"),
    ),
    ("POST", "/api/v1/briefs/{brief_id}/submit"): Row(WRITE_DRAFT, prepare=fresh_brief("draft")),
    ("POST", "/api/v1/briefs/{brief_id}/archive"): Row(WRITE_DRAFT, prepare=fresh_brief("draft")),
    ("POST", "/api/v1/briefs/{brief_id}/approve"): Row(REVIEW, prepare=fresh_brief("in_review")),
    ("POST", "/api/v1/briefs/{brief_id}/request-changes"): Row(
        REVIEW, body=lambda ctx: {"comment": "根拠をもう一つ"}, prepare=fresh_brief("in_review")
    ),
    ("POST", "/api/v1/briefs/{brief_id}/revise"): Row(
        {**WRITE_DRAFT, "editor": 201, "admin": 201, "employee": 403}, prepare=fresh_brief("published")
    ),
    ("GET", "/api/v1/evidence"): Row(authed(200, svc_people=403)),
    # Each caller finds what its reads show it; a token that reads none of the types is refused.
    ("GET", "/api/v1/search"): Row(authed(200, svc_people=403), query={"q": "価格 price"}),
    ("POST", "/api/v1/evidence"): Row({**admin_only(201), "editor": 201}, body=lambda ctx: EVIDENCE),
    # `evidence_id` is cited by nothing published yet: it does not exist for employees and
    # integrations (finding 6); managers see it, and may not change it.
    ("GET", "/api/v1/evidence/{evidence_id}"): Row(authed(200, **UNPUBLISHED_EVIDENCE)),
    ("POST", "/api/v1/evidence/{evidence_id}/verify"): Row(
        {**admin_only(200), "editor": 200, **UNPUBLISHED_EVIDENCE}, prepare=fresh_evidence
    ),
    ("POST", "/api/v1/evidence/{evidence_id}/replace"): Row(
        {**admin_only(201), "editor": 201, **UNPUBLISHED_EVIDENCE},
        body=lambda ctx: EVIDENCE,
        prepare=fresh_evidence,
    ),
    ("GET", "/api/v1/pitch/{product_key}"): Row(authed(200, svc_people=403), prepare=published_product),
    ("POST", "/api/v1/pitch/{product_key}/usage"): Row(
        authed(201, svc_people=403),
        body=lambda ctx: {"event": "shown", "opportunity_ref": "OPP-1"},
        prepare=published_product,
    ),
    ("GET", "/api/v1/pitch/{product_key}/usage"): Row(
        {**admin_only(200), "editor": 200}, prepare=published_product
    ),
    # --- end briefs, evidence and pitch rows ---
    # --- feedback rows ---
    # `feedback_id` was filed by another employee: the employee caller is told it does not exist.
    ("GET", "/api/v1/feedback"): Row(authed(200, svc_pitch=403, svc_people=403)),
    ("POST", "/api/v1/feedback"): Row(
        authed(201, svc_pitch=403, svc_people=403),
        body=lambda ctx: {"source": "sales", "body": "請求書の読み取りが遅い"},
    ),
    ("POST", "/api/v1/feedback/batch"): Row(
        authed(200, svc_pitch=403, svc_people=403),
        body=lambda ctx: {"items": [{"source": "sales", "body": "設定が30分で終わった"}]},
    ),
    ("GET", "/api/v1/feedback/{feedback_id}"): Row(authed(200, employee=404, svc_pitch=403, svc_people=403)),
    ("PATCH", "/api/v1/feedback/{feedback_id}"): Row(
        authed(200, employee=404, svc_pitch=404, svc_people=404), body=lambda ctx: {"tags": ["請求書"]}
    ),
    ("POST", "/api/v1/feedback/{feedback_id}/transition"): Row(
        authed(200, employee=404, svc_pitch=404, svc_people=404),
        body=lambda ctx: {"to": "triaged", "note": "請求書チームへ"},
        prepare=lambda app, ctx: ctx["fresh_feedback"](app, ctx),
    ),
    ("GET", "/api/v1/me/feed"): Row(authed(200, svc_pitch=403, svc_people=403)),
    # Refusals are per item (tests/feedback/test_bulk.py): the answer itself is 200 for every caller.
    ("POST", "/api/v1/feedback/bulk"): Row(
        authed(200),
        body=lambda ctx: {"ids": ctx["bulk_ids"], "action": "transition", "to": "triaged"},
        prepare=lambda app, ctx: __import__("tests.feedback.test_bulk", fromlist=["*"]).fresh_bulk(app, ctx),
    ),
    # --- end feedback rows ---
    # --- themes and digest rows ---
    # The weekly review is for editors, managers, admins and feedback:read integrations (none of
    # this matrix's service accounts holds it; tests/feedback covers them): employees get 403.
    ("GET", "/api/v1/feedback/digest"): Row(authed(200, employee=403, svc_pitch=403, svc_people=403)),
    ("GET", "/api/v1/themes"): Row(authed(200, employee=403, svc_pitch=403, svc_people=403)),
    ("POST", "/api/v1/themes"): Row(
        authed(201, employee=403, svc_pitch=403, svc_people=403), body=lambda ctx: {"name": "読み取り速度"}
    ),
    ("GET", "/api/v1/themes/{theme_id}"): Row(
        authed(200, employee=403, svc_pitch=403, svc_people=403),
        prepare=lambda app, ctx: __import__("tests.feedback.test_themes", fromlist=["*"]).fresh_themes(
            app, ctx
        ),
    ),
    # A fresh pair per caller: `fresh_themes` leaves the survivor's id in ctx["merge_into"].
    ("POST", "/api/v1/themes/{theme_id}/merge"): Row(
        authed(200, employee=403, svc_pitch=403, svc_people=403),
        body=lambda ctx: {"into": ctx["merge_into"]},
        prepare=lambda app, ctx: __import__("tests.feedback.test_themes", fromlist=["*"]).fresh_themes(
            app, ctx
        ),
    ),
    ("POST", "/api/v1/themes/{theme_id}/transition"): Row(
        authed(200, employee=403, svc_pitch=403, svc_people=403),
        body=lambda ctx: {"to": "triaged", "note": "まとめてトリアージ"},
        prepare=lambda app, ctx: __import__("tests.feedback.test_themes", fromlist=["*"]).fresh_themes(
            app, ctx
        ),
    ),
    # --- end themes and digest rows ---
}

# GraphQL root fields: caller → "ok" or the expected extensions.code.
GRAPHQL: dict[str, tuple[str, dict[str, str]]] = {
    "me": (
        "{ me { email } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN", "svc_people": "FORBIDDEN"},
    ),
    "person": (
        '{ person(id: "%(person_id)s") { email } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN"},
    ),
    "people": (
        "{ people(first: 2) { edges { node { email } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN"},
    ),
    "departments": (
        "{ departments { edges { node { key } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "products": ("{ products { edges { node { key } } } }", {ANY: "ok", "anonymous": "UNAUTHENTICATED"}),
    "product": ('{ product(key: "%(product_key)s") { key } }', {ANY: "ok", "anonymous": "UNAUTHENTICATED"}),
    "createDepartment": (
        'mutation { createDepartment(input: {key: "%(unique)s", name: "開発部"}) { key } }',
        {ANY: "FORBIDDEN", "admin": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "createProduct": (
        'mutation { createProduct(input: {key: "%(unique)s", name: "製品"}) { key } }',
        {ANY: "FORBIDDEN", "admin": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "createPerson": (
        'mutation { createPerson(input: {email: "%(unique)s@example.com", displayName: "新人"}) { email } }',
        {ANY: "FORBIDDEN", "admin": "ok", "svc_people": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "updatePerson": (
        'mutation { updatePerson(id: "%(person_id)s", input: {displayName: "改名"}) { displayName } }',
        {
            ANY: "FORBIDDEN",
            "admin": "ok",
            "svc_people": "ok",
            "svc_pitch": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    # --- messages GraphQL rows ---
    "messages": (
        "{ messages(first: 2) { edges { node { title evidence { claim } brief { title } } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_people": "FORBIDDEN"},
    ),
    "message": (
        '{ message(id: "%(message_id)s") { title etag } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_people": "FORBIDDEN"},
    ),
    "lintMessage": (
        '{ lintMessage(locale: "ja", text: "高性能で多機能") { findings { word } } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "createMessage": (
        'mutation { createMessage(input: {kind: KEY_MESSAGE, title: "経理の残業を減らす"}) { id } }',
        {ANY: "FORBIDDEN", "editor": "ok", "admin": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    # `message_id` is published: readers are refused the write (403), callers who cannot read
    # messages are told nothing exists (404); writers may repeat the same change.
    "updateMessage": (
        'mutation { updateMessage(id: "%(message_id)s", input: {body: "入力作業を週3時間減らします。"},'
        ' ifMatch: "*") { body } }',
        {
            ANY: "FORBIDDEN",
            "editor": "CONFLICT",  # published: immutable (revise instead)
            "admin": "CONFLICT",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "publishMessage": (
        'mutation { publishMessage(id: "%(message_id)s") { status } }',
        REVIEW_ON_PUBLISHED_MESSAGE,
    ),
    "approveMessage": (
        'mutation { approveMessage(id: "%(message_id)s") { status } }',
        REVIEW_ON_PUBLISHED_MESSAGE,
    ),
    "submitMessage": (
        'mutation { submitMessage(id: "%(message_id)s") { status } }',
        WORKFLOW_ON_PUBLISHED_MESSAGE,
    ),
    "requestMessageChanges": (
        'mutation { requestMessageChanges(id: "%(message_id)s", comment: "出典を") { status } }',
        REVIEW_ON_PUBLISHED_MESSAGE,
    ),
    # Callers run in order (ALL_CALLERS): the editor acts first, so the admin finds it done and
    # an integration no longer sees the withdrawn message.
    "withdrawMessage": (
        'mutation { withdrawMessage(id: "%(message_id)s") { status } }',
        {**WORKFLOW_ON_PUBLISHED_MESSAGE, "editor": "ok", "svc_pitch": "NOT_FOUND"},
    ),
    "reviseMessage": (
        'mutation { reviseMessage(id: "%(message_id)s") { version } }',
        {**WORKFLOW_ON_PUBLISHED_MESSAGE, "editor": "ok"},  # the admin finds version 2 open
    ),
    # --- end messages GraphQL rows ---
    # --- briefs, evidence and pitch GraphQL rows ---
    # One template runs for every caller in turn (anonymous, employee, manager, editor, admin,
    # svc_pitch, svc_people), so workflow rows act on the published `brief_id`: employees see it
    # but may not write (FORBIDDEN); integrations without briefs:read do not see it (NOT_FOUND).
    "briefs": (
        "{ briefs(first: 2) { edges { node { title product { key } versions { version } } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN", "svc_people": "FORBIDDEN"},
    ),
    "brief": (
        '{ brief(id: "%(brief_id)s") { title etag product { key } evidence { claim }'
        " messages { title } versions { version } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "NOT_FOUND", "svc_people": "NOT_FOUND"},
    ),
    "createBrief": (
        'mutation { createBrief(input: {productKey: "%(product_key)s", title: "新製品 ローンチ", locale: "ja",'
        ' evidence: [{id: "%(evidence_id)s"}]}) { status } }',
        {ANY: "FORBIDDEN", "editor": "ok", "admin": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "updateBrief": (
        'mutation { updateBrief(id: "%(brief_id)s", input: {title: "改訂"}, ifMatch: "*") { title } }',
        {
            ANY: "FORBIDDEN",
            "editor": "CONFLICT",  # published versions are immutable: revise instead
            "admin": "CONFLICT",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "submitBrief": (
        'mutation { submitBrief(id: "%(brief_id)s") { status } }',
        {
            ANY: "FORBIDDEN",
            "editor": "CONFLICT",  # only a draft can be submitted
            "admin": "CONFLICT",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "approveBrief": (
        'mutation { approveBrief(id: "%(brief_id)s") { status } }',
        {
            ANY: "CONFLICT",  # reviewers may approve, but only a brief in review
            "employee": "FORBIDDEN",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "requestBriefChanges": (
        'mutation { requestBriefChanges(id: "%(brief_id)s", comment: "根拠をもう一つ") { status } }',
        {
            ANY: "CONFLICT",  # reviewers may send back, but only a brief in review
            "employee": "FORBIDDEN",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    # The editor (fourth caller) archives it; the admin then finds it archived already.
    "archiveBrief": (
        'mutation { archiveBrief(id: "%(brief_id)s") { status } }',
        {
            ANY: "FORBIDDEN",
            "editor": "ok",
            "admin": "CONFLICT",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    # The editor opens version 2; the admin then finds a version already open.
    "reviseBrief": (
        'mutation { reviseBrief(id: "%(brief_id)s", change: MINOR) { version status } }',
        {
            ANY: "FORBIDDEN",
            "editor": "ok",
            "admin": "CONFLICT",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "search": (
        '{ search(q: "価格 price", first: 2) { edges { node { type id score } } } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_people": "FORBIDDEN"},
    ),
    "evidence": (
        "{ evidence(first: 2) { edges { node { claim etag } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_people": "FORBIDDEN"},
    ),
    "evidenceItem": (
        '{ evidenceItem(id: "%(evidence_id)s") { claim } }',
        {
            ANY: "ok",
            "anonymous": "UNAUTHENTICATED",
            "employee": "NOT_FOUND",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
        },
    ),
    "createEvidence": (
        'mutation { createEvidence(input: {kind: CASE, claim: "A社で月末残業がゼロに",'
        ' source: "A社インタビュー"}) { id } }',
        {ANY: "FORBIDDEN", "editor": "ok", "admin": "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    # Owned by the context's author: other people and pitch readers may not verify it.
    "verifyEvidence": (
        'mutation { verifyEvidence(id: "%(evidence_id)s") { verifyBy } }',
        {
            ANY: "FORBIDDEN",
            "editor": "ok",
            "admin": "ok",
            "employee": "NOT_FOUND",  # unpublished evidence: it does not exist for them
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    # The editor replaces it; the admin then finds it replaced already (409).
    "replaceEvidence": (
        'mutation { replaceEvidence(id: "%(evidence_id)s", input: {kind: METRIC,'
        ' claim: "月末残業が月20時間減少", source: "A社 2026-11"}) { id } }',
        {
            ANY: "FORBIDDEN",
            "editor": "ok",
            "admin": "CONFLICT",  # the editor (earlier in ALL_CALLERS) already replaced it
            "employee": "NOT_FOUND",  # unpublished evidence: it does not exist for them
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "currentPitch": (
        '{ currentPitch(productKey: "%(pitch_key)s", locale: "ja") { pitch version freshness { status } } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_people": "FORBIDDEN"},
    ),
    # --- end briefs, evidence and pitch GraphQL rows ---
    # --- feedback GraphQL rows ---
    # `feedback_id` was filed by another employee (the employee caller is told it does not exist);
    # ids that exist nowhere (0000…) show who may ask (NOT_FOUND) and who may not (FORBIDDEN).
    "feedback": (
        "{ feedback(first: 2) { edges { node { body theme { name } transitions { toStatus }"
        " filedBy { email } } } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN", "svc_people": "FORBIDDEN"},
    ),
    "feedbackItem": (
        '{ feedbackItem(id: "%(feedback_id)s") { body status etag transitions { toStatus } } }',
        {
            ANY: "ok",
            "employee": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    "createFeedback": (
        'mutation { createFeedback(input: {source: SALES, body: "請求書の読み取りが遅い"}) { status } }',
        {ANY: "ok", "anonymous": "UNAUTHENTICATED", "svc_pitch": "FORBIDDEN", "svc_people": "FORBIDDEN"},
    ),
    "updateFeedback": (
        'mutation { updateFeedback(id: "%(feedback_id)s", input: {tags: ["請求書"]}) { tags } }',
        {
            ANY: "ok",
            "employee": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
        },
    ),
    # The manager (the first triager in ALL_CALLERS) moves it on; the editor and admin then find
    # it triaged already.
    "transitionFeedback": (
        'mutation { transitionFeedback(id: "%(feedback_id)s", input: {to: TRIAGED, note: "請求書チームへ"})'
        " { status } }",
        {
            ANY: "CONFLICT",
            "manager": "ok",
            "employee": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "NOT_FOUND",
            "svc_people": "NOT_FOUND",
        },
    ),
    "themes": (
        "{ themes(first: 2) { edges { node { name items accounts mergedInto { name } } } } }",
        {
            ANY: "ok",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    "theme": (
        '{ theme(id: "00000000-0000-4000-8000-000000000001") { name } }',
        {
            ANY: "NOT_FOUND",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    "createTheme": (
        'mutation { createTheme(input: {name: "読み取り速度"}) { name items accounts } }',
        {
            ANY: "ok",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    "mergeTheme": (
        'mutation { mergeTheme(id: "00000000-0000-4000-8000-000000000001",'
        ' into: "00000000-0000-4000-8000-000000000002") { name } }',
        {
            ANY: "NOT_FOUND",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    "transitionTheme": (
        'mutation { transitionTheme(id: "00000000-0000-4000-8000-000000000001", input: {to: TRIAGED})'
        " { moved skipped } }",
        {
            ANY: "NOT_FOUND",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    # Refusals are per item: every authenticated caller gets results (here a 404 for the unknown id).
    "bulkFeedback": (
        'mutation { bulkFeedback(input: {ids: ["00000000-0000-4000-8000-000000000001"], action: TRANSITION,'
        " to: TRIAGED}) { results { status } } }",
        {ANY: "ok", "anonymous": "UNAUTHENTICATED"},
    ),
    "digest": (
        "{ digest { total byTheme { key count } nps { score } decided { build stop } loopGapItems { body }"
        " overdueItems { body } medianLoopDays } }",
        {
            ANY: "ok",
            "employee": "FORBIDDEN",
            "anonymous": "UNAUTHENTICATED",
            "svc_pitch": "FORBIDDEN",
            "svc_people": "FORBIDDEN",
        },
    ),
    # --- end feedback GraphQL rows ---
}
for _domain in DOMAIN_ROWS:
    MATRIX.update(_domain.ROWS)
    GRAPHQL.update(_domain.GRAPHQL_ROWS)


def registered_routes(app) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount) or not context.methods:
            continue  # static file mounts and websockets carry no API semantics
        # As the OpenAPI document writes it: `{feedback_id:uuid}` is `{feedback_id}` there.
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", context.path)
        for method in context.methods - {"HEAD"}:
            found.add((method, path))
    return found


def test_every_route_has_a_row(app):
    routes = registered_routes(app)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an authorization row: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_every_graphql_root_field_has_a_row(app):
    from service.api.graphql import build_schema

    schema = build_schema(app.state.settings)
    fields = set()
    for root in (
        schema.schema_converter.type_map.get("Query"),
        schema.schema_converter.type_map.get("Mutation"),
    ):
        if root is not None:
            fields |= {f.graphql_name or _camel(f.python_name) for f in root.definition.fields}
    assert fields == set(GRAPHQL), (
        f"missing: {sorted(fields - set(GRAPHQL))}, stale: {sorted(set(GRAPHQL) - fields)}"
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.fixture
async def context(app, callers):
    from tests.feedback.test_loop import filed_feedback_id, fresh_feedback
    from tests.messages.test_messages import published_message_id

    target = await make_person(app, role="employee", display_name="対象 者")
    product = await make_product(app)
    author = await make_person(app, role="editor", display_name="起草 者")
    published = await make_brief(app, author, (await make_product(app)).key, status="published")
    evidence = await fresh_evidence(app, {"author": author})
    ctx = {
        "callers": callers,
        "author": author,
        "person_id": str(target.id),
        "product_key": product.key,
        "client": await make_client(app, "pitch:read"),
        "brief_id": str(published.id),
        "pitch_key": published.product_key,
        **evidence,
        "message_id": await published_message_id(app),
        "feedback_filer": target,
        "feedback_id": await filed_feedback_id(app, target),
        "fresh_feedback": fresh_feedback,
    }
    for domain in DOMAIN_ROWS:
        ctx.update(await domain.context(app, ctx))
    return ctx


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
async def test_rest_matrix(app, client, context, route):
    method, template = route
    row = MATRIX[route]
    mismatches = []
    for caller in ALL_CALLERS:
        params = {**context, **(await row.prepare(app, context) if row.prepare else {})}
        path = template.format(**{k: v for k, v in params.items() if isinstance(v, str)})
        headers = {**context["callers"].headers(caller), **(row.headers or {})}
        kwargs: dict[str, Any] = {"headers": headers}
        if row.body:
            kwargs["json"] = row.body(context)
        if row.form:
            kwargs["data"] = row.form(context)
        if row.query:
            kwargs["params"] = row.query
        if row.stream:
            async with Stream(app, path, headers) as stream:
                status, text = stream.status, "" if stream.status == 200 else await stream.text()
        else:
            response = await client.request(method, path, **kwargs)
            status, text = response.status_code, response.text
        if status != row.status_for(caller):
            mismatches.append((caller, row.status_for(caller), status, text[:200]))
    assert not mismatches, f"{method} {template}: (caller, expected, got, body) {mismatches}"


@pytest.mark.parametrize("field", sorted(GRAPHQL))
async def test_graphql_matrix(client, context, field):
    template, expected = GRAPHQL[field]
    mismatches = []
    for caller in ALL_CALLERS:
        query = template % {**context, "unique": unique("g")}
        response = await client.post(
            "/graphql", json={"query": query}, headers=context["callers"].headers(caller)
        )
        assert response.status_code == 200, response.text
        payload = response.json()
        errors = payload.get("errors") or []
        outcome = errors[0]["extensions"]["code"] if errors else "ok"
        want = expected.get(caller, expected.get(ANY))
        if outcome != want:
            mismatches.append((caller, want, outcome))
    assert not mismatches, f"{field}: (caller, expected, got) {mismatches}"
