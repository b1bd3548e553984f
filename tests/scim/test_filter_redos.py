"""Finding 3: a SCIM filter is read in time linear in its length and capped on every path.

The old regex backtracked cubically: 999 spaces and an `x` took 4 s, and the .search body had
no length cap at all (1,500 characters took 9.5 s while /healthz waited).
"""

from __future__ import annotations

import time

import pytest

from service.scim.errors import ScimProblem
from service.scim.filters import MAX_FILTER_LENGTH, parse_filter, parse_group_filter
from tests.scim.conftest import BASE, assert_scim_error, patch_body, user_body

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
# Shapes that made the old pattern backtrack: runs of whitespace and attribute characters
# with no valid comparison at the end.
ADVERSARIAL = [
    " " * (MAX_FILTER_LENGTH - 1) + "x",
    "a" + " " * (MAX_FILTER_LENGTH - 2) + "x",
    'a eq "x"' + " " * (MAX_FILTER_LENGTH - 9) + "x",
    "a " * (MAX_FILTER_LENGTH // 2),
]
# Generous guards, for a loaded CI machine: the scan itself takes well under a millisecond and a
# refused request a few; the old regex took 4 s (999 spaces) to 9.5 s (1,500 characters).
PARSE_BUDGET_SECONDS = 0.1
BUDGET_SECONDS = 2.0


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_parser_is_fast_on_adversarial_filters_within_the_cap(text):
    assert len(text) <= MAX_FILTER_LENGTH
    start = time.perf_counter()
    with pytest.raises(ScimProblem):
        parse_filter(text)
    assert time.perf_counter() - start < PARSE_BUDGET_SECONDS


def test_parser_still_reads_the_filters_clients_send():
    # userName is matched ignoring case by the query (RFC 7643: caseExact false), kept as sent here.
    assert parse_filter('userName eq "Hanako@Example.com"').user_name == "Hanako@Example.com"
    assert parse_filter('emails.value eq "Hanako@Example.com"').email == "hanako@example.com"
    assert parse_group_filter('displayName eq "営業部"').display_name == "営業部"
    assert parse_filter('  externalId  eq "E-1 \\"x\\""  ').external_id == 'E-1 "x"'
    core = "urn:ietf:params:scim:schemas:core:2.0:User:userName"
    assert parse_filter(f'{core} EQ "a@example.com"').user_name == "a@example.com"
    assert parse_filter('emails.value eq "山田@example.jp"').email == "山田@example.jp"
    for refused in ('userName co "a"', 'userName eq "a" and active eq true', 'userName eq "a', "userName eq"):
        with pytest.raises(ScimProblem):
            parse_filter(refused)


async def _timed(call):
    start = time.perf_counter()
    response = await call
    return response, time.perf_counter() - start


@pytest.mark.parametrize("text", [" " * 1499 + "x", 'userName eq "' + "a" * 1486 + '"'])
async def test_long_filter_is_refused_quickly_on_get(client, hr, text):
    assert len(text) == 1500
    response, elapsed = await _timed(client.get(f"{BASE}/Users", params={"filter": text}, headers=hr))
    assert_scim_error(response, 400, "invalidFilter")
    assert elapsed < BUDGET_SECONDS


@pytest.mark.parametrize("path", ["/Users/.search", "/.search"])
@pytest.mark.parametrize("text", [" " * 1499 + "x", 'userName eq "' + "a" * 1486 + '"'])
async def test_long_filter_is_refused_quickly_on_search(client, hr, path, text):
    body = {"schemas": [SEARCH], "filter": text}
    response, elapsed = await _timed(client.post(f"{BASE}{path}", json=body, headers=hr))
    assert_scim_error(response, 400, "invalidFilter")
    assert elapsed < BUDGET_SECONDS


@pytest.mark.parametrize("text", ADVERSARIAL)
async def test_adversarial_filter_within_the_cap_answers_quickly_on_both_paths(client, hr, text):
    response, elapsed = await _timed(client.get(f"{BASE}/Users", params={"filter": text}, headers=hr))
    assert_scim_error(response, 400, "invalidFilter")
    assert elapsed < BUDGET_SECONDS
    body = {"schemas": [SEARCH], "filter": text}
    response, elapsed = await _timed(client.post(f"{BASE}/Users/.search", json=body, headers=hr))
    assert_scim_error(response, 400, "invalidFilter")
    assert elapsed < BUDGET_SECONDS


async def test_a_filter_at_the_cap_still_finds_the_user(client, hr):
    created = await client.post(f"{BASE}/Users", json=user_body("capped@example.com"), headers=hr)
    assert created.status_code == 201, created.text
    text = 'userName eq "capped@example.com"'
    text = text + " " * (MAX_FILTER_LENGTH - len(text))
    body = {"schemas": [SEARCH], "filter": text}
    response = await client.post(f"{BASE}/Users/.search", json=body, headers=hr)
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == 1


async def test_filter_that_is_not_a_string_is_refused(client, hr):
    body = {"schemas": [SEARCH], "filter": 12}
    response = await client.post(f"{BASE}/Users/.search", json=body, headers=hr)
    assert response.status_code == 400, response.text


async def _user_id(client, hr) -> str:
    created = await client.post(f"{BASE}/Users", json=user_body("patched@example.com"), headers=hr)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_long_patch_path_is_refused_quickly(client, hr):
    user_id = await _user_id(client, hr)
    path = "emails[" + 'type eq "x" or ' * 5000 + 'type eq "work"].value'
    body = patch_body({"op": "replace", "path": path, "value": "x@example.com"})
    response, elapsed = await _timed(client.patch(f"{BASE}/Users/{user_id}", json=body, headers=hr))
    assert_scim_error(response, 400, "invalidPath")
    assert elapsed < BUDGET_SECONDS


async def test_too_many_patch_operations_are_refused(client, hr):
    user_id = await _user_id(client, hr)
    body = patch_body(*[{"op": "replace", "path": "displayName", "value": f"n{i}"} for i in range(101)])
    response = await client.patch(f"{BASE}/Users/{user_id}", json=body, headers=hr)
    assert_scim_error(response, 400, "invalidValue")
    body = patch_body(*[{"op": "replace", "path": "displayName", "value": f"n{i}"} for i in range(100)])
    response = await client.patch(f"{BASE}/Users/{user_id}", json=body, headers=hr)
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "n99"
