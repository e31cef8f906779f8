"""The dashboard at /ui/ in real headless Chromium (Debian's chromium + chromium-driver, through selenium),
on three real masters with two hollow minions: it shows the masters, an RC's pods turning Running on their
hosts, and after the leader (the master the page was loaded from) is killed, the new roles, and it keeps
following changes through another master.
"""

import shutil
import signal

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from raftkube.testing import poll_until, rc_body, running_cluster, service_body, start_cli, stop_process
from tests.conftest import call_failed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def cluster_with_minions(tmp_path, request):
    with running_cluster(tmp_path, failed=lambda: call_failed(request)) as cluster:
        minions = start_cli(["minion", "--masters", ",".join(cluster.urls), "--runtime", "hollow", "--count", "2",
                             "--name-prefix", "hollow-", "--address", "127.0.0.1", "--port", "-1",
                             "--heartbeat", "1"], tmp_path / "minions.log", cwd=tmp_path)
        try:
            poll_until(lambda: len(requests.get(cluster.urls[0] + "/api/v1/nodes", timeout=3).json()["items"]) == 2,
                       20, what="two hollow minions registered")
            yield cluster
        finally:
            stop_process(minions, signal.SIGTERM, 15, "hollow minions")


@pytest.fixture
def browser(tmp_path):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1100", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                              options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def rows(driver, table: str) -> dict[str, dict]:
    """The rows of one dashboard table: data-name -> the row's data-* attributes (read in the page at once)."""
    return driver.execute_script(
        "const out = {};"
        "for (const tr of document.querySelectorAll('#' + arguments[0] + ' tbody tr[data-name]'))"
        "  out[tr.dataset.name] = Object.assign({}, tr.dataset);"
        "return out;", table)


def wait(driver, what: str, timeout_s: float, cond):
    """WebDriverWait until ``cond(driver)`` is truthy; the failure names ``what``."""
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(cond)
    except TimeoutException:
        seen = driver.execute_script("return {conn: document.getElementById('conn').textContent, "
                                     "raft: dashboard.raft, current: dashboard.current}")
        raise AssertionError(f"page: not {what} within {timeout_s} s; it showed {seen}; masters rows "
                             f"{rows(driver, 'masters')}") from None


def test_dashboard_follows_an_rc_and_survives_the_leader(cluster_with_minions, browser, tmp_path):
    cluster = cluster_with_minions
    leader = cluster.leader()
    browser.get(cluster.url(leader) + "/ui/")

    # every master with its role, one leader; the page watches the master it was loaded from
    wait(browser, "three masters, one of them the leader", 15,
         lambda d: (lambda m: len(m) == 3 and m[leader]["role"] == "leader"
                    and sum(r["role"] == "follower" for r in m.values()) == 2)(rows(d, "masters")))
    conn = browser.find_element(By.ID, "conn")
    wait(browser, "the page watching the leader", 10,
         lambda d: conn.get_attribute("data-state") == "connected" and conn.get_attribute("data-master") == leader)
    wait(browser, "both hollow minions Ready", 15,
         lambda d: (lambda n: sorted(n) == ["hollow-0", "hollow-1"] and all(r["ready"] == "true" for r in n.values()))(
             rows(d, "nodes")))

    # an RC created through the API: its pods appear, are placed on the minions and turn Running, on the page
    r = requests.post(cluster.url(leader) + "/api/v1beta1/replicationControllers", json=rc_body("web", 3), timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(cluster.url(leader) + "/api/v1beta1/services",
                      json=service_body("web", 8080, {"name": "web"}), timeout=10)
    assert r.status_code == 200, r.text
    wait(browser, "the RC listed with 3 desired", 10,
         lambda d: rows(d, "rcs").get("web", {}).get("desired") == "3")
    pods = wait(browser, "3 pods of web Running on the hollow minions", 30,
                lambda d: (lambda p: p if len(p) == 3 and all(v["phase"] == "Running" and v["host"].startswith("hollow-")
                                                              for v in p.values()) else None)(
                    {k: v for k, v in rows(d, "pods").items() if v["owner"] == "web"}))
    api = {p["metadata"]["name"]: p for p in
           requests.get(cluster.url(leader) + "/api/v1/namespaces/default/pods?labelSelector=name%3Dweb", timeout=5).json()["items"]}
    assert set(pods) == set(api) and all(pods[n]["host"] == api[n]["spec"]["nodeName"] for n in pods)
    wait(browser, "the RC at 3 current", 10, lambda d: rows(d, "rcs")["web"]["current"] == "3")
    wait(browser, "the service with its 3 endpoints", 15,
         lambda d: rows(d, "services").get("web", {}).get("endpoints") == "3")
    wait(browser, "a chart point with API requests", 10,
         lambda d: d.execute_script("return dashboard.history.some(p => p.req > 0)"))
    browser.save_screenshot(str(tmp_path / "dashboard.png"))

    # kill the leader the page was loaded from: a new leader shows, the old one unreachable, and the page
    # moves to another master and keeps following the cluster
    cluster.kill(leader, signal.SIGKILL)
    new_leader = poll_until(lambda: next((n for n in cluster.running() if cluster.raft(n)["role"] == "leader"), None),
                            20, what="a new leader")
    wait(browser, f"{leader} unreachable and {new_leader} leading", 20,
         lambda d: (lambda m: m[leader]["role"] == "unreachable" and m[new_leader]["role"] == "leader")(
             rows(d, "masters")))
    wait(browser, "the page watching a live master", 20,
         lambda d: conn.get_attribute("data-state") == "connected" and conn.get_attribute("data-master") != leader)
    r = requests.put(cluster.url(new_leader) + "/api/v1/namespaces/default/replicationcontrollers/web/scale",
                     json={"kind": "Scale", "apiVersion": "autoscaling/v1",
                           "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 5}}, timeout=10)
    assert r.status_code == 200, r.text
    wait(browser, "the RC scaled to 5 with 5 pods Running, seen through the new master", 30,
         lambda d: rows(d, "rcs")["web"]["desired"] == "5" and sum(
             v["phase"] == "Running" for v in rows(d, "pods").values() if v["owner"] == "web") == 5)
    browser.save_screenshot(str(tmp_path / "dashboard-after-failover.png"))
    # no script error in the page (network errors of the killed master are expected, and handled)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert not errors, errors
