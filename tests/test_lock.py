"""The lock files in requirements/ cover what pyproject.toml asks for (else: `make lock`).

`make run`, `make test` and the Dockerfile install only from the lock with hashes, so a
dependency added to pyproject.toml without refreshing the lock would fail the install on a
fresh machine (or, worse, be missing from the image). This catches it in the suite.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (REQUIREMENTS / lock).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


def wanted(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("run.txt", ()), ("test.txt", ("test",)), ("mutants.txt", ("test", "mutants"))],
)
def test_every_dependency_is_pinned_within_its_range(lock, extras):
    pinned = pins(lock)
    problems = []
    for requirement in wanted(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not in requirements/{lock}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement}: requirements/{lock} pins {version}")
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_build_backend_is_pinned():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    pinned = pins("build.txt")
    for spec in build["requires"]:
        requirement = Requirement(spec)
        assert requirement.specifier.contains(pinned[canonicalize_name(requirement.name)]), spec


def test_every_pin_carries_hashes():
    for lock in ("build.txt", "run.txt", "test.txt", "mutants.txt"):
        text = (REQUIREMENTS / lock).read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"
