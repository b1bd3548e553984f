"""Authorization matrix rows for customer accounts (merged by tests/test_authorization_matrix.py).

Accounts carry revenue: read by editors, managers, admins (and `feedback:read` integrations,
which this matrix's clients do not hold: tests/accounts covers them); written (created, changed,
merged) by editors and admins. Employees and the matrix's integrations get 403, anonymous 401.
"""

from __future__ import annotations

from typing import Any

from tests.factories import OPERATOR, unique
from tests.matrix import Row, authed

READ = authed(200, employee=403, svc_pitch=403, svc_people=403)


def write(ok: int) -> dict[str, int]:
    return authed(ok, employee=403, manager=403, svc_pitch=403, svc_people=403)


async def _create(app: Any) -> str:
    from service.accounts import service as accounts_service
    from service.accounts.schemas import AccountCreate

    async with app.state.sessionmaker() as session:
        made = await accounts_service.create_account(
            session, OPERATOR, AccountCreate(name=unique("株式会社"))
        )
    return str(made.id)


async def _fresh_pair(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """A fresh account per caller merged into another fresh one (left in ctx["account_into"])."""
    ctx["account_into"] = await _create(app)
    return {"account_id": await _create(app)}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/accounts"): Row(READ),
    ("POST", "/api/v1/accounts"): Row(write(201), body=lambda ctx: {"name": unique("株式会社つばさ")}),
    ("GET", "/api/v1/accounts/{account_id}"): Row(READ),
    ("PATCH", "/api/v1/accounts/{account_id}"): Row(write(200), body=lambda ctx: {"segment": "smb"}),
    ("POST", "/api/v1/accounts/{account_id}/merge"): Row(
        write(200), body=lambda ctx: {"into": ctx["account_into"]}, prepare=_fresh_pair
    ),
}

_READ_CODES = {
    "*": "ok",
    "employee": "FORBIDDEN",
    "anonymous": "UNAUTHENTICATED",
    "svc_pitch": "FORBIDDEN",
    "svc_people": "FORBIDDEN",
}
_WRITE_CODES = {**_READ_CODES, "manager": "FORBIDDEN"}
_NO_SUCH = "00000000-0000-4000-8000-000000000001"

GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "accounts": (
        "{ accounts(first: 2) { edges { node { key name annualRevenue { amount } } } } }",
        _READ_CODES,
    ),
    "account": ('{ account(id: "%(account_id)s") { key mergedInto { key } } }', _READ_CODES),
    "createAccount": ('mutation { createAccount(input: {name: "%(unique)s"}) { key } }', _WRITE_CODES),
    "updateAccount": (
        'mutation { updateAccount(id: "%(account_id)s", input: {segment: SMB}) { segment } }',
        _WRITE_CODES,
    ),
    "mergeAccount": (
        f'mutation {{ mergeAccount(id: "{_NO_SUCH}", into: "%(account_id)s") {{ key }} }}',
        {**_WRITE_CODES, "*": "NOT_FOUND"},
    ),
}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """An account every row reads or changes."""
    return {"account_id": await _create(app)}
