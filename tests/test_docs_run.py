"""Docs that run: every shell block of README.md and docs/*.md, against a live server.

Conventions (the docs follow them; this test enforces them):
- ```bash and ```sh blocks run, in document order, in ONE bash process per document
  (`set -eEuo pipefail`), so a variable (or function) set in one block is there in the next;
  each block may take BLOCK_SECONDS;
- a block whose first line is `# no-run: <reason>` is skipped and counted (Docker, an IdP's
  console, `make run`, long benchmarks); the counts and reasons are printed per document;
- a block in another fence language that looks like shell (```console, ```shell, or an
  unlabelled block starting with `curl`, `$ `, `.venv/bin/`...) fails the test: nothing escapes;
- `http://127.0.0.1:8000` (or `localhost:8000`) in a block means the live server: the test
  substitutes its port;
- `.venv/bin/cuecard` works from the block's working directory (the repository's files, linked,
  with `.venv`) and shares the server's database and signing key (CUECARD_ settings in the
  environment); `make` and `docker` there refuse to run (a block that needs them is no-run).

A failure names the document, the block, the document line of the failed command, the block's
text, and the tails of the shell's stdout and stderr and of the server's log.

Each document gets a fresh PostgreSQL database with the demo loaded (migrated and loaded as
`cuecard db upgrade` and `cuecard demo load` do, once into a template, then copied per
document) and a server of its own (`cuecard serve`); the documents run side by side. A block succeeds when bash exits 0, so the docs use `curl -fsS` where an
HTTP error must fail. PostgreSQL pass only (out-of-process, it runs once in `make test`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from service.auth.principal import Principal
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.demo import loader
from service.migrate import upgrade
from service.wiring import connect_domains, session_info
from tests.conftest import BACKEND, POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]

# Documents expected to fail for a stated reason while being rewritten (xfail; empty normally).
PENDING: dict[str, str] = {}

RUN_LANGUAGES = {"bash", "sh"}
SHELL_LIKE_LANGUAGES = {"console", "shell", "shell-session", "shellsession", "zsh", "terminal", "session"}
# An unlabelled block whose first line starts like a command is a shell block in disguise.
LOOKS_LIKE_A_COMMAND = re.compile(r"^(\$ |curl\s|\.venv/|cuecard\s|make\s|docker\s|export\s|jq\s|wget\s)")
NO_RUN = re.compile(r"^#\s*no-run:\s*(?P<reason>\S.*)$")
SERVER = re.compile(r"(?:127\.0\.0\.1|localhost):8000\b")

BLOCK_SECONDS = 120  # generous: a block may start the CLI several times on a busy CI machine
BASH = shutil.which("bash") or "/bin/bash"
GUARDS = ".docs-test-bin"  # in the working directory, first on PATH: see `workdir`
TAIL_LINES = 40
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy

POSTGRES_ONLY = pytest.mark.skipif(
    BACKEND != "postgres", reason="the docs run once, in the PostgreSQL pass of `make test`"
)


@dataclass(frozen=True)
class Block:
    number: int  # 1-based among the document's fenced blocks
    line: int  # line of the opening fence
    language: str
    text: str

    @property
    def no_run_reason(self) -> str | None:
        first = self.text.lstrip("\n").split("\n", 1)[0].strip()
        match = NO_RUN.match(first)
        return match["reason"].strip() if match else None


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides the suite's row cleanup: these tests use databases of their own, not its app."""


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced code block (``` or ~~~, CommonMark rules for the closing fence)."""
    blocks: list[Block] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        opening = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)", lines[index])
        if not opening:
            index += 1
            continue
        fence, language = opening[1], opening[2].lower()
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[index]):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence (or the end of the document)
        blocks.append(Block(len(blocks) + 1, start + 1, language, "\n".join(body)))
    return blocks


def disguised_shell(blocks: list[Block]) -> list[Block]:
    """Blocks that look like shell but would not run: they must be ```bash/```sh."""
    found = []
    for block in blocks:
        if block.language in RUN_LANGUAGES:
            continue
        first = next((line.strip() for line in block.text.split("\n") if line.strip()), "")
        if block.language in SHELL_LIKE_LANGUAGES or (
            not block.language and LOOKS_LIKE_A_COMMAND.match(first)
        ):
            found.append(block)
    return found


def test_the_fence_parser_and_the_markers():
    """The harness's own reading of a document: languages, markers, disguised shell."""
    document = "\n".join(
        [
            "# T",
            "```bash",
            "echo one",
            "```",
            "````sh",
            "# no-run: needs Docker",
            "docker ps",
            "```",  # shorter than the opening fence: still inside
            "````",
            "```",
            "curl -s http://127.0.0.1:8000/healthz",
            "```",
            "```console",
            "$ ls",
            "```",
            "```json",
            '{"a": 1}',
            "```",
        ]
    )
    blocks = fenced_blocks(document)
    assert [(b.number, b.line, b.language) for b in blocks] == [
        (1, 2, "bash"),
        (2, 5, "sh"),
        (3, 10, ""),
        (4, 13, "console"),
        (5, 16, "json"),
    ]
    assert blocks[1].no_run_reason == "needs Docker" and "```" in blocks[1].text
    assert blocks[0].no_run_reason is None
    assert [b.number for b in disguised_shell(blocks)] == [3, 4]
    assert SERVER.sub("127.0.0.1:49152", "http://localhost:8000/x http://127.0.0.1:8000") == (
        "http://127.0.0.1:49152/x http://127.0.0.1:49152"
    )


# --- the live environment ---------------------------------------------------------------------


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


def _admin(*statements: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(_admin_dsn())
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _database_url(name: str) -> str:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


def _venv() -> Path:
    """The repository's `.venv` (as `make test` makes it, in CI), else the one running the suite."""
    own = ROOT / ".venv"
    return own if (own / "bin" / "cuecard").exists() else Path(sys.executable).parent.parent


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The blocks' working directory: the repository's files (linked, so nothing the blocks
    write lands in the checkout) and `.venv`, so `.venv/bin/cuecard` works as the docs say."""
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    if missing:  # not a skip: CI must run the docs
        pytest.fail(f"the docs' examples need {' and '.join(missing)} on PATH (apt-get install curl jq)")
    directory = tmp_path_factory.mktemp("repo")
    for entry in ROOT.iterdir():
        if entry.name not in {".venv", ".git", "var"}:
            (directory / entry.name).symlink_to(entry)
    (directory / ".venv").symlink_to(_venv())
    # A block that reaches `make` or `docker` lacks its no-run marker: refuse at once rather
    # than install into the venv, start a second server or build an image.
    guards = directory / GUARDS
    guards.mkdir()
    for command in ("make", "docker"):
        guard = guards / command
        guard.write_text(
            f"#!/bin/sh\necho '{command} does not run in the docs test: mark the block no-run' >&2\nexit 97\n"
        )
        guard.chmod(0o755)
    return directory


def _environment(database_url: str, var_dir: Path, guards: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUECARD_")}
    env |= {
        "CUECARD_DATABASE_URL": database_url,
        "CUECARD_JWT_SECRET": secrets.token_urlsafe(48),
        "CUECARD_VAR_DIR": str(var_dir),
        "CUECARD_LOG_LEVEL": "WARNING",
        # This checkout's `service` package, also when the venv's editable install is another's.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PATH": os.pathsep.join([str(guards), env.get("PATH", "")]),
        "LC_ALL": "C.UTF-8",
        # The server is local: curl must not send it through a proxy the machine may configure.
        "NO_PROXY": ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])),
        "no_proxy": ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("no_proxy")])),
    }
    return env


async def _load_demo(database_url: str, var_dir: Path) -> None:
    """`cuecard demo load`, in process (what the command runs, without starting Python again)."""
    settings = Settings(env="test", database_url=database_url, var_dir=var_dir, log_level="WARNING")
    connect_domains()  # as the CLI does before it serves anything
    engine = create_engine(settings)
    try:
        info = session_info(settings)
        async with create_sessionmaker(engine, info=info)() as session:
            assert await loader.load(session, Principal.operator("demo"), if_empty=True)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrated and loaded with the demo once; each document gets a copy (CREATE DATABASE …
    TEMPLATE), which takes a fraction of a second."""
    name = f"cuecard_docs_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        upgrade(_database_url(name))
        asyncio.run(_load_demo(_database_url(name), tmp_path_factory.mktemp("var")))
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _server(workdir: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [".venv/bin/cuecard", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()[-3000:]}"
            # urllib, not httpx: an httpx call builds a TLS context (~50 ms of CPU) even for http.
            with contextlib.suppress(OSError), DIRECT.open(f"{base}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    break
            assert time.monotonic() < deadline, (
                f"the server did not answer /healthz: {log.read_text()[-3000:]}"
            )
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _script(blocks: list[Block], base: str, state: Path, failed_at: Path) -> tuple[str, dict[int, int]]:
    """One bash script: each block announces itself (state file, stdout and stderr), then runs.
    Also returns which document line each line of the script comes from, so that the line an
    ERR trap records (the command that failed) can be named in the document."""
    lines = ["set -eEuo pipefail", f'trap \'printf "%s\\n" "$LINENO" > "{failed_at}"\' ERR']
    origin: dict[int, int] = {}
    for block in blocks:
        marker = f"=== block {block.number} (line {block.line}) ==="
        lines += [
            f"printf '%s\\n' '{block.number} {block.line}' > '{state}'",
            f"printf '\\n%s\\n' '{marker}'; printf '\\n%s\\n' '{marker}' >&2",
        ]
        for offset, text in enumerate(SERVER.sub(base.removeprefix("http://"), block.text).split("\n")):
            lines.append(text)
            origin[len(lines)] = block.line + 1 + offset
    lines.append(f"printf '%s\\n' 'done' > '{state}'")
    return "\n".join(lines) + "\n", origin


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(line if len(line) <= 400 else line[:400] + " …" for line in lines[-TAIL_LINES:])


@dataclass(frozen=True)
class Outcome:
    summary: str  # ran N, skipped M (with the reasons)
    failure: str | None


def run_document(document: str, database: str, workdir: Path, tmp: Path) -> Outcome:
    """Runs one document's shell blocks in one bash process against a server of its own."""
    blocks = fenced_blocks((ROOT / document).read_text(encoding="utf-8"))
    shell = [b for b in blocks if b.language in RUN_LANGUAGES]
    skipped = [b for b in shell if b.no_run_reason]
    runnable = [b for b in shell if not b.no_run_reason]
    reasons = "".join(f"\n    line {b.line}: {b.no_run_reason}" for b in skipped)
    summary = f"{document}: ran {len(runnable)}, skipped {len(skipped)}{reasons}"
    hidden = disguised_shell(blocks)
    if hidden:
        return Outcome(
            summary,
            f"{document}: shell-like blocks that would not run; fence them ```bash or ```sh (with "
            "`# no-run: <reason>` first if they cannot run): "
            + ", ".join(f"block {b.number} (line {b.line}, ```{b.language})" for b in hidden),
        )
    if not runnable:
        return Outcome(summary, None)

    started = time.monotonic()
    env = _environment(_database_url(database), tmp / "var", workdir / GUARDS)
    state, stdout, stderr = tmp / "state", tmp / "stdout", tmp / "stderr"
    try:
        with _server(workdir, env, tmp / "server.log") as base:
            script = tmp / "document.sh"
            text, origin = _script(runnable, base, state, tmp / "failed_at")
            script.write_text(text, encoding="utf-8")
            status, timed_out = _run(script, workdir, env, state, stdout, stderr)
    except AssertionError as exc:  # the server did not come up
        return Outcome(summary, f"{document}: {exc}")
    position = state.read_text().split() if state.exists() else []
    if position == ["done"] and not timed_out:
        took = f" in {time.monotonic() - started:.0f} s"  # server start included
        return Outcome(f"{document}: ran {len(runnable)}{took}, skipped {len(skipped)}{reasons}", None)
    number, line = (int(position[0]), int(position[1])) if len(position) == 2 else (0, 0)
    failed = next((b for b in runnable if b.number == number), None)
    why = f"took over {BLOCK_SECONDS} s and was stopped" if timed_out else f"exited with status {status}"
    # bash names lines of the script ("document.sh: line 12: X: unbound variable"): name the document's.
    errors = re.sub(
        rf"{re.escape(str(tmp / 'document.sh'))}: line (\d+):",
        lambda m: f"{document} line {origin.get(int(m[1]), '?')}:",
        _tail(stderr),
    )
    failed_at = (tmp / "failed_at").read_text().strip() if (tmp / "failed_at").exists() else ""
    if not timed_out and failed_at.isdigit() and int(failed_at) in origin:
        why += f", a command failed at document line {origin[int(failed_at)]}"
    return Outcome(
        summary,
        f"{document}, block {number} (line {line}) {why}:\n"
        f"--- block ---\n{failed.text if failed else '?'}\n"
        f"--- stdout (tail) ---\n{_tail(stdout)}\n--- stderr (tail) ---\n{errors}\n"
        f"--- server log (tail) ---\n{_tail(tmp / 'server.log')}",
    )


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest,
    workdir: Path,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Outcome]]:
    """Every selected document at once, each on its own database copy and server: they are
    independent, and most of the time goes to starting processes (the CLI, the server)."""
    selected = sorted(
        {
            item.callspec.params["document"]
            for item in request.session.items
            if getattr(item, "originalname", None) == "test_every_shell_block_runs"
            and item.module is request.module
        }
    )
    databases = {document: f"cuecard_docs_{uuid.uuid4().hex[:12]}" for document in selected}
    try:
        for name in databases.values():  # one at a time: a template may not be copied twice at once
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        with ThreadPoolExecutor(max_workers=max(1, min(len(selected), os.cpu_count() or 1))) as pool:
            futures = {
                document: pool.submit(
                    run_document, document, databases[document], workdir, tmp_path_factory.mktemp("doc")
                )
                for document in selected
            }
            yield {document: _outcome(document, future) for document, future in futures.items()}
    finally:
        _admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in databases.values()))


def _outcome(document: str, future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # a broken harness step fails this document's test, not the others'
        return Outcome(f"{document}: not run", f"{document}: {exc!r}")


@POSTGRES_ONLY
@pytest.mark.parametrize(
    "document",
    [pytest.param(d, marks=pytest.mark.xfail(reason=PENDING[d])) if d in PENDING else d for d in DOCUMENTS],
)
def test_every_shell_block_runs(
    document: str, outcomes: dict[str, Outcome], capsys: pytest.CaptureFixture[str]
):
    """The document's ```bash/```sh blocks run in order against a live server on a fresh demo
    database; the counts of blocks run and skipped (no-run) are printed."""
    outcome = outcomes[document]
    with capsys.disabled():
        print(f"\n{outcome.summary}")
    if outcome.failure:
        pytest.fail(outcome.failure, pytrace=False)


def _run(
    script: Path, workdir: Path, env: dict[str, str], state: Path, stdout: Path, stderr: Path
) -> tuple[int, bool]:
    """Runs the script: (bash's exit status, whether a block overran its time and was killed
    together with everything it started)."""
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(  # noqa: S603 - the documents' own blocks are what this test runs
            [BASH, str(script)], cwd=workdir, env=env, stdout=out, stderr=err, start_new_session=True
        )
    current, since = None, time.monotonic()
    try:
        while process.poll() is None:
            position = state.read_text() if state.exists() else ""
            if position != current:
                current, since = position, time.monotonic()
            elif time.monotonic() - since > BLOCK_SECONDS:
                os.killpg(process.pid, signal.SIGKILL)
                return process.wait(), True
            time.sleep(0.05)
        return process.returncode, False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
