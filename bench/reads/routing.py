"""What finding a request's route costs: the app router's pass over its routes until one
matches in full, with each router's gate (service/main.py `_include`) and with FastAPI's own
match of every router, alternated in one process, for paths served by early and late routers.

    .venv/bin/python -m bench.reads.routing          # µs per request, medians of 5 alternations

No database and no server: the app is built (SQLite settings) and only its router is called.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from starlette.routing import Match

from service.config import Settings
from service.main import create_app

PATHS = [
    "/graphql",
    "/api/v1/people",
    "/api/v1/briefs",
    "/api/v1/messages",
    "/api/v1/feedback",
    "/api/v1/campaigns",
    "/api/v1/me/feed",
    "/api/v1/search",
    "/api/v1/chat-destinations",
]
ROUNDS, REQUESTS = 5, 2000


def main() -> None:
    app = create_app(Settings(env="test", jwt_secret="x" * 40, database_url="sqlite+aiosqlite:///:memory:"))
    routes = app.router.routes

    def full(route: Any) -> Any:
        # A gated router's own method, bypassing the gate its instance carries.
        return type(route).matches.__get__(route) if "matches" in vars(route) else route.matches

    passes = {"FastAPI's own match": [full(r) for r in routes], "gated": [r.matches for r in routes]}
    print("| path | " + " | ".join(passes) + " |\n|---|" + "--:|" * len(passes))
    for path in PATHS:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "root_path": "",
            "headers": [],
            "query_string": b"",
        }
        timings: dict[str, list[float]] = {name: [] for name in passes}
        for _ in range(ROUNDS):
            for name, matchers in passes.items():
                start = time.perf_counter()
                for _ in range(REQUESTS):
                    for matches in matchers:
                        if matches(dict(scope))[0] == Match.FULL:
                            break
                timings[name].append((time.perf_counter() - start) / REQUESTS * 1e6)
        print(
            f"| `{path}` | " + " | ".join(f"{statistics.median(t):.0f} µs" for t in timings.values()) + " |"
        )


if __name__ == "__main__":
    main()
