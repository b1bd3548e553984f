"""How long malicious GraphQL documents take to be refused, and what realistic pages cost.

Runs the real app in process over ASGI on a throwaway SQLite database, as an admin:

    .venv/bin/python -m bench.graphql_limits.run

Prints, per document, the first and the median time of 10 more requests (wall clock, so run it
on a quiet machine) and the error the caller gets; then the estimated cost of the realistic
pages in tests/test_graphql_limits.py against CUECARD_GRAPHQL_MAX_COST.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from graphql import parse

from service.api.graphql import build_schema
from service.api.graphql_limits import estimate_cost
from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from tests.factories import make_person, token_for
from tests.test_graphql_limits import REALISTIC

NO_SUCH_BRIEF = "00000000-0000-4000-8000-000000000000"


def nested(field: str, levels: int, leaf: str = "id") -> str:
    return f"{field} {{ " * levels + leaf + " }" * levels


def documents() -> dict[str, str]:
    bomb = " ".join(f"fragment F{i} on Person {{ ...F{i + 1} ...F{i + 1} }}" for i in range(22))
    return {
        "7 levels of versions": f'{{ brief(id: "{NO_SUCH_BRIEF}") {{ {nested("versions", 7)} }} }}',
        "messages > brief > messages, 3 times": f'{{ brief(id: "{NO_SUCH_BRIEF}") {{ '
        + nested("messages { brief", 3)
        + " }" * 3
        + " } }",
        "30 aliases of briefs(first: 200) { versions }": "{ "
        + " ".join(
            f"a{i}: briefs(first: 200) {{ edges {{ node {{ versions {{ id }} }} }} }}" for i in range(30)
        )
        + " }",
        "fragment bomb, 22 levels (harmless, runs)": "{ me { ...F0 } } "
        + bomb
        + " fragment F22 on Person { id }",
        "manager { id } selected 285 times": "{ me { " + "manager { id } " * 285 + "} }",
        "10,000 braces": "{" * 10_000,
        "a 40,000-character string literal": '{ people(after: "'
        + "a" * 40_000
        + '") { pageInfo { endCursor } } }',
        "a small query (cached)": "{ me { id displayName } }",
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            env="test", database_url=url, var_dir=Path(tmp), jwt_secret="b" * 40, log_level="ERROR"
        )
        app = create_app(settings)
        async with LifespanManager(app):
            admin = await make_person(app, role="admin")
            headers = {"Authorization": f"Bearer {token_for(app, admin)}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for name, query in documents().items():
                    times = []
                    for _ in range(11):
                        started = time.perf_counter()
                        response = await client.post("/graphql", json={"query": query}, headers=headers)
                        times.append((time.perf_counter() - started) * 1000)
                    errors = [e.get("extensions", {}) for e in response.json().get("errors") or []]
                    print(
                        f"{name}: first {times[0]:.1f} ms, median {statistics.median(times[1:]):.1f} ms"
                        f" -> {errors or 'ran'}"
                    )
        schema = build_schema(settings)._schema
        variables = {"n": 50, "product": "p", "brief": NO_SUCH_BRIEF}
        for page, query in sorted(REALISTIC.items()):
            cost = estimate_cost(schema, parse(query), variables)
            print(f"realistic page {page}: cost {cost} (limit {settings.graphql_max_cost})")


if __name__ == "__main__":
    asyncio.run(main())
