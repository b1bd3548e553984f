"""Factories: people, service accounts and their real tokens, made through the services."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from service.auth import cache as auth_cache
from service.auth.principal import Principal
from service.clients import service as clients_service
from service.clients.schemas import ClientCreate
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, PersonCreate, PersonRead
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead

OPERATOR = Principal.operator("tests")
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}-{uuid.uuid4().hex[:6]}"


async def make_department(app: FastAPI, key: str | None = None, name: str | None = None):
    async with app.state.sessionmaker() as session:
        return await people_service.create_department(
            session, OPERATOR, DepartmentCreate(key=key or unique("dept"), name=name or "部署 Department")
        )


async def make_product(
    app: FastAPI, key: str | None = None, name: str = "クラデスク KuraDesk"
) -> ProductRead:
    async with app.state.sessionmaker() as session:
        return await products_service.create_product(
            session, OPERATOR, ProductCreate(key=key or unique("p"), name=name)
        )


async def make_person(
    app: FastAPI,
    *,
    role: str = "employee",
    email: str | None = None,
    display_name: str = "山田 太郎",
    department_key: str | None = None,
    **extra: object,
) -> PersonRead:
    async with app.state.sessionmaker() as session:
        return await people_service.create_person(
            session,
            OPERATOR,
            PersonCreate(
                email=email or f"{unique(role)}@example.com",
                display_name=display_name,
                role=role,
                department_key=department_key,
                **extra,
            ),
        )


def token_for(app: FastAPI, person: PersonRead, role: str | None = None, **claims: object) -> str:
    """A real own-issuer token for `person`, signed with the app's key."""
    payload = {"sub": str(person.id), "email": person.email, "role": role or person.role, **claims}
    return app.state.tokens.mint(payload)[0]


async def make_client(app: FastAPI, *scopes: str, name: str = "integration") -> tuple[str, str]:
    async with app.state.sessionmaker() as session:
        created = await clients_service.create_client(
            session, OPERATOR, ClientCreate(name=name, scopes=list(scopes))
        )
    return created.client_id, created.client_secret


async def service_token(app: FastAPI, client: httpx.AsyncClient, *scopes: str) -> str:
    """A service-account token obtained through the real token endpoint."""
    client_id, secret = await make_client(app, *scopes)
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Callers:
    """Tokens by caller name; `anonymous` has none."""

    tokens: dict[str, str | None] = field(default_factory=dict)
    people: dict[str, PersonRead] = field(default_factory=dict)

    def headers(self, name: str) -> dict[str, str]:
        return bearer(self.tokens[name])


HUMANS = ("employee", "manager", "editor", "admin")
SERVICES = {"svc_pitch": ("pitch:read",), "svc_people": ("people:write",)}
ALL_CALLERS = ("anonymous", *HUMANS, *SERVICES)


async def make_callers(app: FastAPI, client: httpx.AsyncClient) -> Callers:
    department = await make_department(app)
    callers = Callers(tokens={"anonymous": None})
    for role in HUMANS:
        person = await make_person(app, role=role, department_key=department.key)
        callers.people[role] = person
        callers.tokens[role] = token_for(app, person)
    for name, scopes in SERVICES.items():
        callers.tokens[name] = await service_token(app, client, *scopes)
    return callers


def principal_of(person: PersonRead) -> Principal:
    """The principal a token for `person` resolves to (for calling services directly in setup)."""
    return Principal.for_person(person)


JA_PITCH = "クラデスクは紙とPDFの請求書を読み取り、会計ソフトへ自動で入力します。経理担当者の入力作業を週3時間減らし、入力ミスを40%減らします。"


def complete_brief(product_key: str, **overrides: object) -> dict:
    """A brief body that passes submit: pains, a trade-off, evidence, gut-check and a short pitch."""
    body = {
        "product_key": product_key,
        "locale": "ja",
        "title": "クラデスク 請求書AI ローンチ",
        "background": "インボイス制度で請求書の確認作業が増えた。",
        "target_customer": "従業員50〜300名の企業の経理担当者",
        "pains": [
            {"kind": "dissatisfaction", "text": "月末に請求書の手入力で残業が続く"},
            {"kind": "anxiety", "text": "入力ミスで支払いを誤るのが怖い"},
        ],
        "value_proposition": "請求書の入力時間を週3時間減らす",
        "differentiators": [
            {
                "alternative": "手入力",
                "difference": "読み取りから仕訳まで自動",
                "trade_off": "手書きの請求書には対応しない",
            }
        ],
        "evidence": [
            {
                "kind": "metric",
                "claim": "パイロット5社で入力時間が週3時間減少",
                "source": "2026年パイロット調査",
            }
        ],
        "pitch": JA_PITCH,
        "customer_next_action": "無料トライアルで先月分の請求書を読み込む",
        "gut_check": {
            "who_changes": "経理担当者が月末の残業から解放される",
            "next_action": "先月分の請求書でトライアルする",
            "what_we_give_up": "手書き請求書への対応",
        },
    }
    body.update(overrides)
    return body


async def make_brief(
    app: FastAPI,
    author: PersonRead,
    product_key: str,
    *,
    status: str = "draft",
    reviewer=None,
    override_expired: str | None = None,
    **overrides,
):
    """A brief by `author`, walked to `status` (in_review, published) through the real services;
    `override_expired`: the approver's reason to publish over expired evidence."""
    from service.briefs import service as briefs_service
    from service.briefs.schemas import BriefCreate
    from service.review import Approval

    async with app.state.sessionmaker() as session:
        brief = await briefs_service.create_brief(
            session, principal_of(author), BriefCreate(**complete_brief(product_key, **overrides))
        )
        if status in ("in_review", "published"):
            brief = await briefs_service.submit_brief(session, principal_of(author), brief.id)
        if status == "published":
            approver = reviewer or await make_person(app, role="manager")
            approval = Approval.model_validate(
                {"override_expired_evidence": {"reason": override_expired}} if override_expired else {}
            )
            brief = await briefs_service.approve_brief(session, principal_of(approver), brief.id, approval)
    return brief


# --- counting statements ----------------------------------------------------------------------


@asynccontextmanager
async def counting_statements(app: FastAPI, *, read_cache: bool = False) -> AsyncIterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs. The read cache is off
    meanwhile (what is counted is the work of answering, not of remembering an answer) unless
    `read_cache` says the cache itself is what is measured."""
    statements: list[str] = []
    cache = app.state.read_cache
    ttl = cache.ttl
    if not read_cache:
        cache.ttl = 0

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        cache.ttl = ttl


async def notices_settled(app: FastAPI) -> None:
    """Returns once every change notice committed so far has reached this app (PostgreSQL; on
    SQLite there are none). Call it after a statement-count test's setup, before warming: a
    notice still in flight would drop a freshly cached caller and cost a lookup that is not the
    one measured. PostgreSQL delivers notices in commit order, so once a marker sent now has
    arrived, every earlier one has too."""
    listener = getattr(app.state, "listener", None)
    if listener is None:
        return
    await asyncio.wait_for(listener.connected.wait(), timeout=10)
    cache, marker, arrived = app.state.auth_cache, f"person:{uuid.uuid4()}", asyncio.Event()

    def on_notify(payload: str) -> None:
        type(cache).on_notify(cache, payload)  # the marker names nobody: it drops nothing
        if payload == marker:
            arrived.set()

    cache.on_notify = on_notify
    try:
        async with app.state.engine.begin() as connection:
            await connection.execute(sa.select(sa.func.pg_notify(auth_cache.CHANNEL, marker)))
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        del cache.on_notify
