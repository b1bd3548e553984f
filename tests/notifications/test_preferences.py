"""`GET/PUT /api/v1/me/notification-preferences`: defaults for every kind, a full replace, and
refusals (unknown time zone, bad HH:MM, unknown kind: 422, nothing saved; service accounts 403)."""

from __future__ import annotations

from service.notifications.schemas import NotificationKind
from tests.notifications.helpers import set_preferences

URL = "/api/v1/me/notification-preferences"


async def test_defaults_fill_every_kind(client, callers):
    response = await client.get(URL, headers=callers.headers("employee"))
    assert response.status_code == 200, response.text
    prefs = response.json()
    assert prefs["timezone"] == "UTC" and prefs["quiet_hours"] is None and prefs["delivery"] == "immediate"
    assert set(prefs["kinds"]) == {k.value for k in NotificationKind}
    assert prefs["kinds"]["campaign_step"] == {"email": True, "chat": True}
    assert prefs["kinds"]["check_graded"] == {"email": True, "chat": False}


async def test_put_replaces_and_get_shows_it(client, callers):
    me = callers.headers("employee")
    saved = await set_preferences(
        client,
        me,
        timezone="Asia/Tokyo",
        quiet_hours={"start": "22:00", "end": "07:00"},
        delivery="daily_digest",
        kinds={"nudge": {"email": False}, "check_graded": {"chat": True}},
    )
    assert saved["timezone"] == "Asia/Tokyo"
    assert saved["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert saved["kinds"]["nudge"] == {"email": False, "chat": False}
    assert saved["kinds"]["check_graded"] == {"email": True, "chat": True}
    assert (await client.get(URL, headers=me)).json() == saved
    # A PUT replaces: what it leaves out takes its default again.
    again = await set_preferences(client, me, timezone="Europe/Berlin")
    assert again["quiet_hours"] is None and again["delivery"] == "immediate"
    assert again["kinds"]["nudge"] == {"email": True, "chat": False}
    # Someone else's preferences are their own.
    assert (await client.get(URL, headers=callers.headers("manager"))).json()["timezone"] == "UTC"


async def test_bad_input_is_a_problem_and_saves_nothing(client, callers):
    me = callers.headers("employee")
    await set_preferences(client, me, timezone="Asia/Tokyo")
    for body in (
        {"timezone": "Mars/Olympus_Mons"},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"kinds": {"horoscope": {"email": False}}},
        {"kinds": {"nudge": {"sms": True}}},
        {"delivery": "weekly"},
        {"colour": "blue"},
    ):
        response = await client.put(URL, json=body, headers=me)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(URL, headers=me)).json()["timezone"] == "Asia/Tokyo"


async def test_only_people_have_preferences(client, callers):
    for method in ("get", "put"):
        kwargs = {"json": {}} if method == "put" else {}
        response = await getattr(client, method)(URL, headers=callers.headers("svc_pitch"), **kwargs)
        assert response.status_code == 403, response.text
        assert (await getattr(client, method)(URL, **kwargs)).status_code == 401


async def test_the_kinds_are_an_enum_in_the_spec(client):
    spec = (await client.get("/openapi.json")).json()
    schema = spec["components"]["schemas"]["NotificationPreferencesUpdate"]
    names = schema["properties"]["kinds"]["propertyNames"]
    enum = (
        spec["components"]["schemas"][names["$ref"].rsplit("/", 1)[1]]["enum"]
        if "$ref" in names
        else names["enum"]
    )
    assert set(enum) == {k.value for k in NotificationKind}


async def test_graphql_reads_and_sets_preferences(client, callers):
    me = callers.headers("employee")
    mutation = """mutation {
      setMyNotificationPreferences(input: {timezone: "Asia/Tokyo", delivery: DAILY_DIGEST,
        quietHours: {start: "22:00", end: "07:00"}, kinds: [{kind: NUDGE, email: false}]}) {
        timezone delivery quietHours { start end } kinds { kind email chat } } }"""
    response = await client.post("/graphql", json={"query": mutation}, headers=me)
    body = response.json()
    assert "errors" not in body, body
    prefs = body["data"]["setMyNotificationPreferences"]
    assert prefs["delivery"] == "DAILY_DIGEST" and prefs["quietHours"] == {"start": "22:00", "end": "07:00"}
    assert {"kind": "NUDGE", "email": False, "chat": False} in prefs["kinds"]
    read = await client.post(
        "/graphql", json={"query": "{ myNotificationPreferences { timezone } }"}, headers=me
    )
    assert read.json()["data"]["myNotificationPreferences"]["timezone"] == "Asia/Tokyo"
    bad = await client.post(
        "/graphql",
        json={
            "query": 'mutation { setMyNotificationPreferences(input: {timezone: "Nowhere/Land"}) { timezone } }'
        },
        headers=me,
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    twice = """mutation { setMyNotificationPreferences(input: {timezone: "UTC",
      kinds: [{kind: NUDGE, email: true}, {kind: NUDGE, chat: true}]}) { timezone } }"""
    refused = (await client.post("/graphql", json={"query": twice}, headers=me)).json()
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused["errors"][0]["extensions"]["errors"][0]["field"] == "kinds"
    still = await client.post(
        "/graphql", json={"query": "{ myNotificationPreferences { timezone } }"}, headers=me
    )
    assert still.json()["data"]["myNotificationPreferences"]["timezone"] == "Asia/Tokyo"  # nothing applied
