"""Chat destinations (admins): added per department or company-wide, shown masked on every
read, SSRF-guarded like webhooks (and https only), removed; everyone else is refused."""

from __future__ import annotations

import pytest

from tests.factories import make_department

URL = "/api/v1/chat-destinations"
SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cretTokenWXYZ"


@pytest.fixture
def allow_example(app, monkeypatch):
    # An allow-listed host is not resolved: no DNS in the suite.
    monkeypatch.setattr(app.state.settings, "webhook_allow_hosts", frozenset({"hooks.example.com"}))


async def test_admins_add_list_and_delete_masked_destinations(app, client, callers, allow_example):
    admin = callers.headers("admin")
    department = await make_department(app, key="sales-jp")
    created = await client.post(
        URL, json={"kind": "slack", "url": SECRET_URL, "department_key": "sales-jp"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"] == "https://hooks.example.com/…WXYZ" and "s3cret" not in created.text
    assert body["department_key"] == department.key and body["kind"] == "slack"
    company = await client.post(URL, json={"kind": "teams", "url": SECRET_URL + "2"}, headers=admin)
    assert company.status_code == 201 and company.json()["department_key"] is None

    listed = await client.get(URL, headers=admin)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()["items"]] == [body["id"], company.json()["id"]]
    assert "s3cret" not in listed.text

    assert (await client.delete(f"{URL}/{body['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"{URL}/{body['id']}", headers=admin)).status_code == 404
    assert len((await client.get(URL, headers=admin)).json()["items"]) == 1


async def test_only_admins_touch_destinations(client, callers, allow_example):
    admin = callers.headers("admin")
    made = (await client.post(URL, json={"kind": "slack", "url": SECRET_URL}, headers=admin)).json()
    for name in ("employee", "manager", "editor", "svc_pitch"):
        headers = callers.headers(name)
        assert (
            await client.post(URL, json={"kind": "slack", "url": SECRET_URL}, headers=headers)
        ).status_code == 403
        assert (await client.get(URL, headers=headers)).status_code == 403
        assert (await client.delete(f"{URL}/{made['id']}", headers=headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert len((await client.get(URL, headers=admin)).json()["items"]) == 1


async def test_unsafe_or_unknown_is_refused_and_nothing_is_stored(client, callers, allow_example):
    admin = callers.headers("admin")
    for body, field in (
        ({"kind": "slack", "url": "https://10.1.2.3/services/hook"}, "url"),  # private
        ({"kind": "slack", "url": "https://127.0.0.1/hook"}, "url"),  # loopback, not allow-listed
        ({"kind": "teams", "url": "https://169.254.169.254/latest"}, "url"),  # metadata
        (
            {"kind": "slack", "url": "http://hooks.slack.com/services/x"},
            "url",
        ),  # a secret in clear (refused before any DNS)
        ({"kind": "slack", "url": "ftp://hooks.example.com/x"}, "url"),
        ({"kind": "slack", "url": SECRET_URL, "department_key": "no-such-dept"}, "department_key"),
    ):
        response = await client.post(URL, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json()["errors"]}
    for body in (
        {"kind": "discord", "url": SECRET_URL},
        {"kind": "slack"},
        {"kind": "slack", "url": SECRET_URL, "x": 1},
    ):
        assert (await client.post(URL, json=body, headers=admin)).status_code == 422
    assert (await client.get(URL, headers=admin)).json()["items"] == []


async def test_an_allow_listed_loopback_receiver_may_be_plain_http(app, client, callers, monkeypatch):
    monkeypatch.setattr(app.state.settings, "webhook_allow_hosts", frozenset({"127.0.0.1"}))
    response = await client.post(
        URL,
        json={"kind": "slack", "url": "http://127.0.0.1:8099/chat/abcd"},
        headers=callers.headers("admin"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["url"] == "http://127.0.0.1/…abcd"
