"""What a GraphQL document may ask for, from the attacker's side: amplifying queries, fragment
bombs, huge or deeply nested documents and cursors, production's error texts and GraphiQL, and
a WebSocket upgrade. Times are CPU times of this process (the app runs in it over ASGI), so a
busy machine does not fail them; each bound is far below what the old code took. Each is refused cleanly (a coded GraphQL error, a problem, a close code),
before any resolver runs, and quickly; realistic intranet pages stay well under every limit.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from graphql import parse

from service.api.graphql import build_schema
from service.api.graphql_limits import TextCache, estimate_cost
from service.config import Settings
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from tests.factories import (
    OPERATOR,
    Callers,
    bearer,
    counting_statements,
    make_brief,
    make_department,
    make_person,
    make_product,
    notices_settled,
    token_for,
)
from tests.test_graphql import error_codes, gql, only_error, other_app

NO_SUCH_BRIEF = "00000000-0000-4000-8000-000000000000"


def nested(field: str, levels: int, leaf: str = "id") -> str:
    return f"{field} {{ " * levels + leaf + " }" * levels


# --- realistic pages: well under the cost limit, and they run ---------------------------------

FEED = """{ myFeed(limit: 50) { __typename
  ... on CampaignStep { at state campaignName title acknowledged checkStatus
        campaign { id name status } brief { id title pitch pains { kind text } } }
  ... on FeedbackLoop { at excerpt status transitions { to at } announcement { title }
        item { id status theme { name } } } } }"""
CAMPAIGNS = """{ campaigns(first: 50) { edges { node { id name status steps { title at }
      brief { id title version pitch } product { name } createdBy { displayName } } }
    pageInfo { endCursor hasNextPage } }
  checks(first: 50, status: SUBMITTED) { edges { node { id status person { displayName }
      campaign { name } } } } }"""
PEOPLE = """query($n: Int!) { people(first: $n) { edges { node { id displayName email
      department { key name } manager { displayName department { name } } } }
    pageInfo { endCursor hasNextPage } } }"""
PITCH = """query($product: String!, $brief: ID!) {
  currentPitch(productKey: $product) { title pitch pains { text } differentiators { alternative }
    evidence { claim } keyMessages { title body evidence { claim } } talkingPoints { title }
    faq { title body } }
  brief(id: $brief) { title status versions { version status }
    messages { title body evidence { claim expired } } } }"""
REALISTIC = {"feed": FEED, "campaigns": CAMPAIGNS, "people": PEOPLE, "pitch": PITCH}


@pytest.mark.parametrize("page", sorted(REALISTIC))
def test_realistic_pages_cost_well_under_the_limit(settings: Settings, page: str) -> None:
    """Unit level on purpose: the cost is never shown to a caller whose query runs."""
    schema = build_schema(settings)
    cost = estimate_cost(schema._schema, parse(REALISTIC[page]), {"n": 50, "product": "p", "brief": "b"})
    assert cost is not None
    print(f"cost of {page}: {cost} (limit {settings.graphql_max_cost})")
    assert cost * 2 <= settings.graphql_max_cost


async def test_realistic_pages_run(app: FastAPI, client: httpx.AsyncClient) -> None:
    editor = await make_person(app, role="editor")
    department = await make_department(app, name="営業部")
    boss = await make_person(app, role="manager", department_key=department.key)
    for i in range(50):
        await make_person(app, display_name=f"社員 {i}", department_key=department.key, manager_id=boss.id)
    product = await make_product(app)
    brief = await make_brief(app, editor, product.key, status="published")
    async with app.state.sessionmaker() as session:
        message = await messages_service.create_message(
            session,
            OPERATOR,
            MessageCreate(
                kind="key_message", brief_id=brief.id, title="時間を売る", body="入力を週3時間減らす。"
            ),
        )
        await messages_service.submit_message(session, OPERATOR, message.id)
        await messages_service.publish_message(session, OPERATOR, message.id)
    employee = await make_person(app, department_key=department.key)

    for page, caller in (("feed", employee), ("campaigns", editor), ("people", editor), ("pitch", employee)):
        variables = {"n": 50, "product": product.key, "brief": str(brief.id)}
        status, body = await gql(client, REALISTIC[page], bearer(token_for(app, caller)), variables)
        assert status == 200
        assert "errors" not in body, (page, body)
    assert len(body["data"]["brief"]["messages"]) == 1


# --- amplification: refused before it runs -----------------------------------------------------

AMPLIFYING = {
    "versions of versions": "{ brief(id: $id) { " + nested("versions", 7) + " } }",
    "messages, brief, messages": "{ brief(id: $id) { "
    + nested("messages { brief", 3, "id")
    + " }" * 3
    + " } }",
    "three levels of versions": "{ brief(id: $id) { " + nested("versions", 3) + " } }",
    "aliases of a page": "{ "
    + " ".join(f"a{i}: briefs(first: 200) {{ edges {{ node {{ versions {{ id }} }} }} }}" for i in range(30))
    + " }",
}


@pytest.mark.parametrize("name", sorted(AMPLIFYING))
async def test_amplifying_queries_are_refused_before_they_run(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers, settings: Settings, name: str
) -> None:
    query = AMPLIFYING[name].replace("{ brief(id: $id)", "query($id: ID!) { brief(id: $id)")
    variables = {"id": NO_SUCH_BRIEF} if "$id" in query else None
    # Warm the auth cache with the caller first: then any statement would be a resolver's.
    await notices_settled(app)
    await gql(client, "{ __typename }", callers.headers("svc_pitch"))
    async with counting_statements(app) as statements:
        started = time.process_time()
        status, body = await gql(client, query, callers.headers("svc_pitch"), variables)
        elapsed = time.process_time() - started
    assert status == 200
    assert body["data"] is None
    error = only_error(body)
    extensions = error["extensions"]
    assert extensions["code"] == "QUERY_TOO_COMPLEX"
    assert extensions["limit"] == settings.graphql_max_cost
    assert extensions["cost"] > settings.graphql_max_cost
    assert str(settings.graphql_max_cost) in error["message"]
    assert statements == []
    assert elapsed < 1.0, elapsed  # before: 12.5 s for seven levels of versions


async def test_first_from_a_variable_counts_on_every_request(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """One document, validated once and then cached: its cost still follows `$n` each time."""
    query = "query($n: Int!) { briefs(first: $n) { edges { node { id versions { id } } } } }"
    headers = callers.headers("editor")
    for n, refused in ((5, False), (200, True), (5, False), (200, True)):
        status, body = await gql(client, query, headers, {"n": n})
        assert status == 200
        assert error_codes(body) == (["QUERY_TOO_COMPLEX"] if refused else []), (n, body)
    # Without `first`, a connection counts its default page.
    status, body = await gql(client, "{ briefs { edges { node { id versions { id } } } } }", headers)
    assert "errors" not in body, body


async def test_a_fragment_bomb_is_measured_in_linear_time(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """Fragment i spreads fragment i+1 twice: 2^n paths through a document of n fragments.
    Strawberry's depth and alias limiters walked every path (~30 s at n = 22); these rules
    measure each fragment once, and the cost counts what the document would really return."""
    n = 22
    fragments = " ".join(f"fragment F{i} on Person {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
    harmless = "{ me { ...F0 } } " + fragments + f" fragment F{n} on Person {{ id displayName }}"
    started = time.process_time()
    _status, body = await gql(client, harmless, callers.headers("employee"))
    assert time.process_time() - started < 2.0
    assert "errors" not in body, body
    assert body["data"]["me"]["id"] == str(callers.people["employee"].id)

    costly = harmless.replace(
        f"fragment F{n} on Person {{ id displayName }}", f"fragment F{n} on Person {{ manager {{ id }} }}"
    )
    started = time.process_time()
    _, body = await gql(client, costly, callers.headers("employee"))
    assert time.process_time() - started < 2.0
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]


@pytest.mark.parametrize(
    "selections",
    [
        "manager { id } " * 250,  # graphql-core compares every pair: ~0.5 s of validation
        "a: manager { id } " * 250,
        "... on Person { manager { id } } " * 150,
    ],
)
async def test_one_field_selected_hundreds_of_times_is_refused_quickly(
    client: httpx.AsyncClient, callers: Callers, selections: str
) -> None:
    started = time.process_time()
    _, body = await gql(client, "{ me { " + selections + "} }", callers.headers("employee"))
    assert time.process_time() - started < 0.15
    assert body["data"] is None
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert any("is selected" in error["message"] for error in body["errors"]), body


async def test_introspection_cannot_nest_type_lists(client: httpx.AsyncClient) -> None:
    query = "{ __schema { types { " + nested("fields { type", 4, "name") + " }" * 4 + " } } }"
    _status, body = await gql(client, query)
    assert body["data"] is None
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection depth" in body["errors"][0]["message"]
    # GraphiQL's own introspection query still works.
    from graphql import get_introspection_query

    _, body = await gql(client, get_introspection_query())
    assert "errors" not in body


# --- documents too big or too deep: clean errors, quickly --------------------------------------


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("ten thousand braces", "{" * 10_000),
        ("a deep selection", "{ me { " + "manager { " * 5_000 + "id" + " }" * 5_001),
        (
            "a deeply nested list as after",
            "{ people(after: " + "[" * 5_000 + "]" * 5_000 + ") { edges { cursor } } }",
        ),
        (
            "a deeply nested object as after",
            "{ people(after: " + "{a: " * 5_000 + "1" + "}" * 5_000 + ") { pageInfo { endCursor } } }",
        ),
    ],
)
async def test_deep_documents_are_parse_errors(
    client: httpx.AsyncClient, callers: Callers, name: str, document: str
) -> None:
    started = time.process_time()
    status, body = await gql(client, document, callers.headers("employee"))
    assert time.process_time() - started < 1.0
    assert status == 200
    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_huge_document_is_refused_before_it_is_lexed(
    client: httpx.AsyncClient, callers: Callers, settings: Settings
) -> None:
    limit = settings.graphql_max_document_chars
    literal = "あ" * limit  # one token: the token limit alone would let it through
    _status, body = await gql(
        client,
        f'{{ people(after: "{literal}") {{ pageInfo {{ endCursor }} }} }}',
        callers.headers("employee"),
    )
    assert body["data"] is None
    error = only_error(body)
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert f"more than {limit} code points" in error["message"]
    comments = "{ __typename }\n" + "#\n" * (settings.graphql_max_tokens + 1)
    _, body = await gql(client, comments, callers.headers("employee"))
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]


def deeply_nested_cursor(levels: int) -> str:
    return base64.urlsafe_b64encode(("[" * levels + "]" * levels).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [deeply_nested_cursor(10_000), deeply_nested_cursor(20), "A" * 100_000])
async def test_a_cursor_that_is_not_ours_is_bad_user_input(
    client: httpx.AsyncClient, callers: Callers, cursor: str
) -> None:
    """Before: base64 of JSON nested 10,000 deep hit a RecursionError (INTERNAL_SERVER_ERROR)."""
    query = "query($after: String) { people(first: 5, after: $after) { edges { cursor } } }"
    status, body = await gql(client, query, callers.headers("admin"), {"after": cursor})
    assert status == 200
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["errors"][0]["field"] == "cursor"
    # The same cursor through REST: a problem, not a 500.
    if len(cursor) < 30_000:
        response = await client.get(
            "/api/v1/people", params={"cursor": cursor}, headers=callers.headers("admin")
        )
        assert response.status_code in (400, 422), response.text


# --- production: no suggestions, no GraphiQL unless switched on --------------------------------

TYPOS = [
    "{ me { dispayName } }",  # a field
    "{ mee { id } }",  # a root field
    "{ people(frist: 5) { edges { cursor } } }",  # an argument
    "{ briefs(status: PUBLISHD) { edges { cursor } } }",  # an enum value
    "{ me { ...F } } fragment F on Persn { id }",  # a type
]
ENUM_VARIABLE = "query($s: BriefStatus) { briefs(status: $s) { edges { cursor } } }"


def production(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update={"env": "production", **update})


async def test_production_errors_suggest_nothing(settings: Settings, callers: Callers) -> None:
    async with other_app(production(settings)) as http:
        for caller in ("anonymous", "employee"):
            for query in TYPOS:
                _status, body = await gql(http, query, callers.headers(caller))
                assert body["data"] is None, body
                assert all(error["extensions"]["code"] for error in body["errors"])
                assert "Did you mean" not in str(body), (caller, body)
            _, body = await gql(http, ENUM_VARIABLE, callers.headers(caller), {"s": "PUBLISHD"})
            assert body["errors"] and "Did you mean" not in str(body), body
            assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_outside_production_errors_still_suggest(client: httpx.AsyncClient, callers: Callers) -> None:
    _, body = await gql(client, TYPOS[0], callers.headers("employee"))
    assert "Did you mean 'displayName'?" in only_error(body)["message"]


async def test_production_serves_no_graphiql_unless_switched_on(settings: Settings, callers: Callers) -> None:
    async with other_app(production(settings)) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["allow"] == "POST"
        assert response.json()["status"] == 405
        assert "<html" not in response.text.lower()
        # POST keeps working.
        _, body = await gql(http, "{ me { id } }", callers.headers("employee"))
        assert body == {"data": {"me": {"id": str(callers.people["employee"].id)}}}

    async with other_app(production(settings, graphiql=True)) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 200
        assert "<html" in response.text.lower()


async def test_a_get_without_graphiql_is_method_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{__typename}"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"].startswith("application/problem+json")


# --- WebSocket upgrade ---------------------------------------------------------------------------


@pytest.mark.parametrize("subprotocols", [[], ["graphql-transport-ws"], ["graphql-ws"]])
async def test_a_websocket_upgrade_is_refused_cleanly(
    app: FastAPI, capfd: pytest.CaptureFixture[str], subprotocols: list[str]
) -> None:
    """A raw ASGI WebSocket handshake (httpx speaks no WebSocket). Before: the context
    dependency ran for the WebSocket and raised (a 500 and a traceback in the log)."""
    incoming = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"origin", b"http://testserver")]
        + ([(b"sec-websocket-protocol", ", ".join(subprotocols).encode())] if subprotocols else []),
        "subprotocols": subprotocols,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    # Closed before it was accepted: a server answers the handshake with 403.
    assert [m["type"] for m in sent] == ["websocket.close"], sent
    assert sent[0]["code"] == 1008  # policy violation
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "error" not in (out + err).lower()


def test_the_document_cache_is_bounded_by_length_as_well_as_count() -> None:
    """Unit level: a parsed document keeps ~1 MiB alive for 2,000 tokens, so an attacker's
    unique long documents must not fill 512 entries. Long texts push old ones out."""
    cache = TextCache(max_entries=512, max_chars=10_000)
    for i in range(100):
        text = f"{{ a{i} }}" + " " * 3_000
        cache.put(text, text, object())
    assert cache._chars <= 10_000
    assert len(cache._entries) == 3
    too_long = "x" * 10_001
    cache.put(too_long, too_long, object())
    assert cache.get(too_long) is None
