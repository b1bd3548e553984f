"""The framework's floor under the REST people page, for `bench.reads.run`.

The service's own app (`service.main.create_app`: every middleware, the same settings) with one
route more, `GET /bench/floor/people`, that takes the people page's dependencies (the read
session, the principal from the bearer token, the page and filter parameters) and answers a
stored copy of the page's body (`BENCH_FLOOR_BODY`, a file the harness writes from a real
response) instead of computing it. What it costs over the bare page is what routing, dependency
injection, authentication and the middleware cost; what the real page costs over it is the
page's own work (session, statement, read models, JSON). Served with `cuecard serve`'s
uvicorn options:

    BENCH_FLOOR_BODY=/tmp/page.json .venv/bin/python -m bench.reads.floor --port 8001
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Annotated

from fastapi import Query, Response
from pydantic import EmailStr

from service.api.rest import JSONBytes, PageDep, ReadSessionDep
from service.auth.dependencies import PrincipalDep
from service.main import create_app

BODY = Path(os.environ["BENCH_FLOOR_BODY"]).read_bytes()

app = create_app()


@app.get("/bench/floor/people", include_in_schema=False)
async def stored_people_page(
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    department_key: Annotated[str | None, Query(max_length=64)] = None,
    email: Annotated[EmailStr | None, Query()] = None,
    active: bool | None = None,
) -> Response:
    """The people page's signature, the stored body: nothing of the page's own work."""
    return JSONBytes(BODY)


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    # As service/cli.py `serve` runs the app: one worker, the app's own logging, no access line.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=parser.parse_args().port,
        proxy_headers=True,
        log_config=None,
        access_log=False,
        server_header=False,
    )
