"""A body that is not JSON: the problem says what is wrong and where (line and column, as
Python's own parser and editors count them), not a character offset as a JSON pointer."""

from __future__ import annotations

import json

import pytest

from service.errors import json_syntax_error
from service.people.models import Department
from tests.test_errors import assert_problem, count_rows

BODIES = {
    "missing comma, Japanese before it": '{\n  "key": "eigyo-x",\n  "name": "営業部"\n  "extra": 1\n}',
    "cut short": '{"key": "sales", "name": ',
    "trailing comma": '{\n\t"key": "sales",\n}',
    "single quotes": "{'key': 'sales'}",
    "not JSON at all": "key=sales&name=営業部",
}


def python_says(body: str) -> tuple[str, int, int]:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(body)
    return caught.value.msg, caught.value.lineno, caught.value.colno


@pytest.mark.parametrize("case", list(BODIES))
async def test_malformed_json_says_what_and_where(app, client, callers, case):
    body = BODIES[case]
    message, line, column = python_says(body)
    response = await client.post(
        "/api/v1/departments",
        content=body.encode(),
        headers={**callers.headers("admin"), "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 400, problem_type="bad-request")
    where = f"{message} at line {line}, column {column}"
    assert problem["detail"] == f"The request body is not valid JSON: {where}."
    [error] = problem["errors"]
    assert error == {
        "location": "body",
        "field": "",
        "detail": where,
        "type": "json_invalid",
        "line": line,
        "column": column,
    }
    assert "pointer" not in error  # an offset is no place in a document that does not parse
    assert await count_rows(app, Department) == 1  # only the callers' own department


async def test_the_example_from_the_issue(client, callers):
    body = '{\n  "key": "x",\n  "name": "y"\n    "z": 1}'
    response = await client.post(
        "/api/v1/departments",
        content=body,
        headers={**callers.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.json()["errors"][0]["detail"] == "Expecting ',' delimiter at line 4, column 5"


@pytest.mark.parametrize(
    ("document", "position", "expected"),
    [
        ("", 0, (1, 1)),
        ("{", 1, (1, 2)),
        ("{\n", 2, (2, 1)),
        ("a\nbc\nd", 5, (3, 1)),
        ("a\nbc\nd", 4, (2, 3)),
        (b"\xe5\x96\xb6\n{", 3, (2, 2)),  # bytes are decoded first: positions count characters
        ("abc", 99, (1, 4)),  # an offset past the end is clamped, never an error of its own
    ],
)
def test_line_and_column_count_from_one_in_characters(document, position, expected):
    entry = json_syntax_error(document, position, "Expecting value")
    assert (entry["line"], entry["column"]) == expected
