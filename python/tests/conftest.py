"""Shared fixtures for attend's Python tests (run by CTest: python.pytest).

ATTEND_SHARED_DATA names the shared test models and vectors, ATTEND_CLI the `attend` binary
the bindings are compared against; both are set by tests/CMakeLists.txt. A missing one is a
failure, never a skip.
"""
import os
import subprocess
from pathlib import Path

import pytest

import attend


def _env_path(name: str) -> Path:
    value = os.environ.get(name)
    assert value, f"{name} is not set (run the tests through ctest, or set it)"
    path = Path(value)
    assert path.exists(), f"{name}={value} does not exist"
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return _env_path("ATTEND_SHARED_DATA")


@pytest.fixture(scope="session")
def cli() -> Path:
    return _env_path("ATTEND_CLI")


@pytest.fixture(scope="session")
def stories(shared: Path) -> Path:
    return shared / "stories260K" / "stories260K.bin"


@pytest.fixture(scope="session")
def model(stories: Path) -> attend.Model:
    return attend.load(str(stories))


def run_cli(cli: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs `attend ARGS`, bytes out, never raising on a failure exit."""
    return subprocess.run([str(cli), *args], capture_output=True, timeout=300)
