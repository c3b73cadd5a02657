"""The tenants' status page, in a real headless browser (Debian's chromium with chromedriver, driven by
Selenium), as ``mapsync serve`` serves it and as the Celery workers' companion (``mapsync status TENANTS
--http``) serves it from the tenants' PostgreSQL state: the tenants appear, and their row changes from "never"
to "ok" while the page stays open (it refreshes itself); a tenant whose secrets or store are missing shows
why; ``/metrics`` has serve's passes, records and API requests per tenant, and the companion's gauges.

Without chromium and chromedriver the test skips, saying so, unless ``MAPSYNC_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which makes their absence a failure."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.tenants.serve import Server
from mapsync.engine.tenants.status import StatusBoard
from mapsync.engine.tenants.web import start_status_server
from mapsync.engine.tenants.workers import WorkerContext
from tests.e2e.test_serve import _registry
from tests.state_backends import delete_tenant, require_postgres

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


def test_the_workers_status_page_shows_their_tenants_from_postgresql(browser: object, tmp_path: Path,
                                                                    sandboxes: dict[str, Sandbox]) -> None:
    """The companion of the Celery workers: passes run by the workers' own code (``WorkerContext.run``, what
    the task runs) into PostgreSQL, the page open in the browser the whole time shows them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url = require_postgres()
    registry = _registry(tmp_path, sandboxes)  # rule sets and secrets of acme and beta; its tenants replaced
    tag = uuid.uuid4().hex[:8]
    ids = {name: f"{name}-{tag}" for name in ("acme", "beta", "lost", "gone")}
    registry.write_text(
        f"defaults: {{interval: 1h, state: '{url}'}}\n"
        "tenants:\n"
        f"  - {{id: {ids['acme']}, ruleset: customers/acme, secrets: {{env_file: secrets/acme.env}}}}\n"
        f"  - {{id: {ids['beta']}, ruleset: customers/beta, secrets: {{env_file: secrets/beta.env}}}}\n"
        f"  - {{id: {ids['lost']}, ruleset: customers/acme, secrets: {{env_file: secrets/lost.env}}}}\n"
        f"  - {{id: {ids['gone']}, ruleset: customers/beta, secrets: {{env_file: secrets/beta.env}}, "
        "state: 'postgresql://postgres@127.0.0.1:5432/mapsync_no_such_database'}\n", encoding="utf-8")
    board = StatusBoard(registry, refresh=0.5)
    board.start()
    httpd = start_status_server(board.status, board.exposition)
    try:
        page = f"http://127.0.0.1:{httpd.server_port}/"
        driver = browser
        driver.get(page)  # type: ignore[attr-defined]

        def cells(name: str) -> list[str]:
            found = driver.find_elements(By.ID, f"tenant-{ids[name]}")  # type: ignore[attr-defined]
            return [td.text for td in found[0].find_elements(By.TAG_NAME, "td")] if found else []

        WebDriverWait(driver, 30).until(lambda _: cells("acme")[2:4] == ["never", "-"])
        assert cells("beta")[2:4] == ["never", "-"] and cells("acme")[5] == "now"
        assert "secrets file" in cells("lost")[9]
        assert "mapsync_no_such_database" in cells("gone")[9]
        driver.execute_script("window.notReloaded = true")  # type: ignore[attr-defined]

        context = WorkerContext(registry, rate_limit=None)
        outcomes = {name: context.run(tenant_id) for name, tenant_id in ids.items()}
        assert outcomes["acme"].status == outcomes["beta"].status == "ok", outcomes
        assert outcomes["lost"].status == outcomes["gone"].status == "not run"

        WebDriverWait(driver, 30).until(lambda _: cells("acme")[3] == "ok" and cells("beta")[3] == "ok")
        acme = cells("acme")
        assert acme[1] == "waiting" and acme[2] != "never" and int(acme[6]) > 0 and acme[9] == "-"
        assert acme[5] not in ("", "now")  # an hour after it started
        assert "secrets file" in cells("lost")[9] and cells("lost")[3] == "-"
        assert "mapsync_no_such_database" in cells("gone")[9]
        assert driver.execute_script("return window.notReloaded") is True  # type: ignore[attr-defined]

        metrics = httpx.get(page + "metrics").text
        for name in ("acme", "beta"):
            assert f'mapsync_tenant_last_pass_ok{{tenant="{ids[name]}"}} 1.0' in metrics
            assert f'mapsync_tenant_enabled{{tenant="{ids[name]}"}} 1.0' in metrics
            assert f'mapsync_tenant_quarantined{{tenant="{ids[name]}"}} 0.0' in metrics
            assert f'mapsync_tenant_last_pass_start_timestamp_seconds{{tenant="{ids[name]}"}}' in metrics
        for name in ("lost", "gone"):
            assert f'mapsync_tenant_error{{tenant="{ids[name]}"}} 1.0' in metrics
    finally:
        httpd.shutdown()
        httpd.server_close()
        board.close()
        for tenant_id in ids.values():
            delete_tenant("mapsync", tenant_id)
