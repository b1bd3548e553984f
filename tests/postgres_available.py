"""Exit 0 when the PostgreSQL named by CUECARD_TEST_POSTGRES_URL answers (used by `make test`)."""

import asyncio
import os
import sys

import asyncpg

URL = os.environ.get("CUECARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def main() -> int:
    try:
        connection = await asyncpg.connect(URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return 1
    await connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
