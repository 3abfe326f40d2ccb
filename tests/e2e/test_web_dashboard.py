"""`whctl serve` on the real stack, in a real browser: headless Chromium (Debian's `chromium`, driven
by Selenium through Debian's `chromedriver`; nothing downloads a browser) loads the dashboard after
`whctl seed` and a scenario, sees every section filled, sees a price change made in the source
within 10 s, makes no request outside the server, and leaves a screenshot in tests/artifacts/
(README's picture, docs/img/dashboard.png, is a copy of it).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, run_whctl
from tests.e2e.demo_data import deploy_and_seed
from whctl.localstack.dashboard import DashboardComponent
from whctl.localstack.proc import wait_for
from whctl.pgserver import free_ports

pytestmark = pytest.mark.e2e

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
SEEN_WITHIN_S = 10


@pytest.fixture(scope="module")
def scenario(stack) -> dict:
    """The seeded stack, the price-change scenario played (orders today, a product with two
    versions), and `whctl verify` run so that data quality has results."""
    deploy_and_seed()
    played = run_whctl("demo", "price-change", "--json", "--timeout", "180")
    assert played.returncode == 0, played.stderr + played.stdout
    verified = run_whctl("verify", "--json", "--wait", "120")
    # 0 ok, 2 warnings, 1 a failed check: the results are recorded either way, and verify answered with them
    assert verified.returncode in (0, 1, 2) and json.loads(verified.stdout)["checks"], verified.stderr
    return json.loads(played.stdout)[0]["facts"]


@pytest.fixture(scope="module")
def server(stack, scenario):
    """`whctl serve --background` as `make demo` starts it (the real command, waitress, a pid file), on a free port."""
    port = free_ports(1)[0]
    served = run_whctl("serve", "--background", "--port", str(port))
    assert served.returncode == 0, served.stderr
    url = served.stdout.strip().rstrip("/")
    dashboard = DashboardComponent(stack.with_overrides(serve_port=port))
    assert url == f"http://127.0.0.1:{port}" and dashboard.pid() is not None
    try:
        yield url
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(dashboard.log_file, ARTIFACTS / "serve.log")
        dashboard.stop()
        assert dashboard.pid() is None


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are needed (make prereqs installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2300",
                "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _until(driver, what: str, script: str, timeout: float = 30):
    """Poll a JavaScript expression until it is truthy; its value."""
    found = {}

    def check():
        found["value"] = driver.execute_script("return " + script)
        return bool(found["value"])

    assert wait_for(check, timeout, interval=0.2), f"the page never showed {what}"
    return found["value"]


def test_the_dashboard_shows_every_section_and_a_price_change_within_10s(stack, scenario, server, browser):
    browser.get(server + "/")
    q = "document.querySelectorAll"
    health_rows = _until(browser, "health rows", f"{q}('#health tbody tr[data-verdict]').length")
    assert health_rows >= 5
    names = browser.execute_script(f"return Array.from({q}('#health tbody tr td:nth-child(2)')).map(e => e.textContent)")
    assert {"replication slot", "freshness", "quarantine"} <= set(names)
    assert _until(browser, "events per minute", "+document.getElementById('chart-events').dataset.points") > 0
    assert _until(browser, "latency per minute", "+document.getElementById('chart-latency').dataset.points") > 0
    assert _until(browser, "daily revenue", "+document.getElementById('chart-revenue').dataset.points") > 0
    assert _until(browser, "top products", f"{q}('#top-products tbody tr').length") > 0
    assert _until(browser, "landing totals", f"{q}('#totals tbody tr').length") == 4
    assert _until(browser, "data-quality checks", f"{q}('#quality tbody tr[data-verdict]').length") >= 10
    assert _until(browser, "the quarantine count", "document.getElementById('quarantine-total').textContent") != ""

    # the history explorer: the scenario's product, its versions with the orders under each
    product_id = scenario["product_id"]
    browser.find_element("id", "history-id").send_keys(str(product_id))
    browser.find_element("css selector", "#history-form button").click()
    versions = _until(browser, "the product's versions", f"{q}('#timeline .version').length")
    assert versions >= 2
    prices = browser.execute_script(f"return Array.from({q}('#timeline .version')).map(e => e.dataset.price)")
    assert prices[-2:] == ["100", "120"]
    assert _until(browser, "orders under the versions", f"{q}('#timeline .order').length") >= 2

    # a price change in the source reaches the page within 10 s (CDC, the engine, the next refresh)
    with psycopg.connect(**stack.connection_kwargs("source"), autocommit=True) as src:
        src.execute("UPDATE public.products SET price = 133.33, updated_at = LOCALTIMESTAMP WHERE product_id = %s", (product_id,))
    changed_at = time.monotonic()
    _until(browser, "the new price", f"Array.from({q}('#timeline .version')).some(e => e.dataset.current === 'true' && e.dataset.price === '133.33')",
           timeout=SEEN_WITHIN_S)
    seen_after = time.monotonic() - changed_at
    assert seen_after <= SEEN_WITHIN_S
    assert browser.execute_script(f"return {q}('#timeline .version').length") == versions + 1

    # every request the page made went to this server
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    requested = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requested if m["method"] == "Network.requestWillBeSent"]
    assert urls and resources
    outside = [u for u in urls + resources if not (u.startswith(server + "/") or u.startswith("data:"))]
    assert outside == [], outside
    # nor did the content security policy block anything (it would say so in the console)
    assert [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]] == []

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    (ARTIFACTS / "dashboard.txt").write_text(f"price change seen on the page after {seen_after:.1f}s\n")
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
