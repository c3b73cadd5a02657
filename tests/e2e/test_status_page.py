"""The status page of ``mapsync serve``, in a real headless browser (Debian's chromium with chromedriver,
driven by Selenium): the tenants appear, and their row changes from "never" to "ok" while the page stays
open (it refreshes itself); ``/metrics`` has the passes, records and API requests per tenant.

Without chromium and chromedriver the test skips, saying so, unless ``MAPSYNC_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which makes their absence a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.tenants.serve import Server
from mapsync.engine.tenants.web import start_status_server
from tests.e2e.test_serve import _registry

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        message = "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("MAPSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[dict[str, Sandbox]]:
    boxes = {name: start_sandbox(tmp_path / f"sb-{name}", seed=True, realistic_limits=False,
                                 products=("webcrm", "fortnox")) for name in ("acme", "beta")}
    try:
        yield boxes
    finally:
        for box in boxes.values():
            box.stop()


def test_the_status_page_shows_tenants_live(browser: object, tmp_path: Path,
                                            sandboxes: dict[str, Sandbox]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = Server(_registry(tmp_path, sandboxes), workers=2, rate_limit=None)
    server.reload_registry()
    httpd = start_status_server(server.status, server.metrics.exposition)
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/"
        driver = browser
        driver.get(url)  # type: ignore[attr-defined]

        def outcome(tenant: str) -> str:
            cells = driver.find_elements(By.CSS_SELECTOR, f"#tenant-{tenant} td")  # type: ignore[attr-defined]
            return cells[3].text if len(cells) > 3 else ""

        WebDriverWait(driver, 20).until(lambda _: outcome("acme") == "-")
        rows = driver.find_elements(By.CSS_SELECTOR, "#tenants tbody tr")  # type: ignore[attr-defined]
        assert [r.get_attribute("id") for r in rows] == ["tenant-acme", "tenant-beta", "tenant-lost"]
        server.serve(once=True)
        WebDriverWait(driver, 20).until(lambda _: outcome("acme") == "ok" and outcome("lost") == "not run")
        lost = driver.find_elements(By.CSS_SELECTOR, "#tenant-lost td")  # type: ignore[attr-defined]
        assert "secrets file" in lost[9].text and lost[3].text == "not run"
        assert "tenant(s), updated" in driver.find_element(By.ID, "updated").text  # type: ignore[attr-defined]
        metrics = httpx.get(url + "metrics").text
        assert 'mapsync_passes_total{outcome="ok",tenant="acme"} 1.0' in metrics
        assert 'mapsync_pass_failures_total{tenant="lost"} 1.0' in metrics
        assert 'mapsync_api_requests_total{system="fortnox",tenant="beta"}' in metrics
        assert 'mapsync_records_total{mapping="customers",outcome="created",tenant="acme"}' in metrics
        assert httpx.get(url + "nothing").status_code == 404
    finally:
        httpd.shutdown()
        httpd.server_close()
