import pytest

from tests.helpers import MasterCluster


@pytest.fixture
def cluster(tmp_path, request):
    """Three real master processes; logs are printed if the test fails."""
    c = MasterCluster(tmp_path)
    c.start_all()
    yield c
    try:
        c.close()
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(c.logs())


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
