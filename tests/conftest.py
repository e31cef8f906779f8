"""Pytest wiring for every test: a mark per folder, the reports a fixture reads to know its test failed,
and the ``cluster`` fixture (three real masters). The harness itself is ``raftkube.testing``."""

from pathlib import Path

import pytest

from raftkube.testing import running_cluster

TESTS = Path(__file__).resolve().parent
FOLDER_MARKS = ("unit", "integration", "docker", "e2e")  # declared in pyproject.toml; `pytest -m unit` etc.


def pytest_collection_modifyitems(items):
    """Mark each test with the folder it lives in (tests/<folder>/...)."""
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKS:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def call_failed(request) -> bool:
    """Whether the test that requested a fixture failed (read in the fixture's teardown)."""
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


@pytest.fixture
def cluster(tmp_path, request):
    """Three real master processes; logs are printed if the test fails."""
    with running_cluster(tmp_path, failed=lambda: call_failed(request)) as c:
        yield c
