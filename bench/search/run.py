"""Search latency on PostgreSQL with 100,000 documents: p50/p95/p99 of a few queries.

    # no-run: long benchmark
    .venv/bin/python -m bench.search.run                       # 100,000 documents, 200 runs a query
    .venv/bin/python -m bench.search.run --documents 5000 --runs 20   # smoke run

What it does:
1. Creates a throwaway database `cuecard_search_<random>` on `--postgres-url`, migrated to head.
2. Writes `--documents` documents through the services' own tables, in batches: published
   briefs' worth of messages and feedback items (Japanese, English and mixed text drawn from a
   small vocabulary, so common words match tens of thousands of documents and rare ones a few),
   indexed by the same code as the service (`service.search.repository.upsert`); then
   `ANALYZE`.
3. Runs each query `--runs` times through `service.search.service.search` (the REST and GraphQL
   path without HTTP) as an employee (published messages, own feedback only: the visibility
   joins are part of what is measured) and as an editor (everything), and prints p50, p95 and
   p99 in ms and the number of candidates matched.
4. Drops the database (unless `--keep`).

Queries: a rare Japanese pair (`価格 反論`), a common Japanese word (`請求書`), an English pair
(`pricing objection`), a common English word (`invoice`), mixed (`KuraDesk 価格`) and a single
character (`値`). A common word matches more than `CANDIDATE_CAP` documents: the cost of the
cap (reading the newest matches in SQL, scoring 500 in Python) is what it shows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa

from service.auth.principal import Principal, Role
from service.config import Settings
from service.db import create_engine, create_sessionmaker, utcnow
from service.feedback.models import FeedbackItem
from service.messages.models import Message
from service.migrate import upgrade
from service.pagination import PageParams
from service.people.models import Person
from service.search import repository
from service.search import service as search_service
from service.search.documents import of_feedback, of_message

JA = [
    "価格",
    "反論",
    "請求書",
    "入力",
    "時間",
    "削減",
    "経理",
    "残業",
    "不満",
    "不便",
    "不安",
    "値引き",
    "競合",
    "導入",
    "会計",
    "連携",
    "手書き",
    "読み取り",
    "精度",
    "月末",
]
EN = [
    "pricing",
    "objection",
    "invoice",
    "entry",
    "hours",
    "saved",
    "accounting",
    "overtime",
    "integration",
    "accuracy",
    "handwriting",
]
QUERIES = ["価格 反論", "請求書", "pricing objection", "invoice", "KuraDesk 価格", "値"]
BATCH = 2000


def _text(rng: random.Random) -> str:
    ja = "の".join(rng.choices(JA[rng.randrange(3) :], k=rng.randint(3, 12))) + "。"
    en = " ".join(rng.choices(EN[rng.randrange(2) :], k=rng.randint(3, 12)))
    return rng.choice([ja, en, f"KuraDesk {ja} {en}"])


async def _fill(url: str, count: int, person: uuid.UUID) -> None:
    engine = create_engine(Settings(), url)
    rng = random.Random(15)  # noqa: S311  # reproducible text, not secrets
    now = utcnow()
    try:
        async with engine.begin() as conn:
            employee = Person(id=person, email="bench@example.com", display_name="bench", role="employee")
            await conn.execute(sa.insert(Person.__table__), [employee.model_dump()])
        for start in range(0, count, BATCH):
            messages, items = [], []
            for n in range(start, min(count, start + BATCH)):
                if n % 2:
                    message_id = uuid.uuid4()
                    messages.append(
                        Message(
                            id=message_id,
                            lineage_id=message_id,  # version 1 of its own lineage
                            kind="key_message",
                            title=_text(rng)[:200],
                            body=_text(rng),
                            status=rng.choice(["published", "draft"]),
                            locale=rng.choice(["ja", "en"]),
                            created_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    items.append(
                        FeedbackItem(
                            source="support",
                            external_id=f"B-{n}",
                            body=_text(rng),
                            content_hash="x",
                            filed_by_id=person if n % 10 == 0 else None,
                            created_at=now,
                            updated_at=now,
                        )
                    )
            async with engine.begin() as conn:
                if messages:
                    await conn.execute(sa.insert(Message.__table__), [m.model_dump() for m in messages])
                if items:
                    await conn.execute(sa.insert(FeedbackItem.__table__), [i.model_dump() for i in items])
                rows = [repository.row_of(of_message(m)) for m in messages] + [
                    repository.row_of(of_feedback(i)) for i in items
                ]
                await conn.execute(repository._UPSERTS["postgresql"], rows)
            print(f"  {min(count, start + BATCH):>7} documents", flush=True)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()


def _at(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _measure(url: str, runs: int, person: uuid.UUID) -> None:
    engine = create_engine(Settings(), url)
    sessions = create_sessionmaker(engine)
    callers = {
        "employee": Principal(kind="person", subject="bench", role=Role.EMPLOYEE, person_id=person),
        "editor": Principal(kind="person", subject="bench-editor", role=Role.EDITOR, person_id=uuid.uuid4()),
    }
    try:
        for name, principal in callers.items():
            for q in QUERIES:
                times, found = [], 0
                for _ in range(runs):
                    async with sessions() as session:
                        started = time.perf_counter()
                        page = await search_service.search(session, principal, q, PageParams(limit=20))
                        times.append((time.perf_counter() - started) * 1000)
                        found = len(page.items)
                times.sort()
                print(
                    f"{name:8} {q:20} p50 {statistics.median(times):7.1f}  p95 {_at(times, 0.95):7.1f}  "
                    f"p99 {_at(times, 0.99):7.1f} ms  ({found} on the first page)"
                )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    name = f"cuecard_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(args.postgres_url)
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))
    person = uuid.uuid4()
    try:
        await asyncio.to_thread(upgrade, url)
        print(f"database {name}: writing {args.documents} documents")
        await _fill(url, args.documents, person)
        await _measure(url, args.runs, person)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
