"""The priority page in a real browser: headless Debian Chromium driven by Playwright.

Needs the `playwright` Python package and Debian's `chromium` (no `playwright install`):
    pip install playwright && apt-get install -y chromium
Missing either is a failure, not a skip. `CHURNSEG_CHROMIUM` overrides the browser path;
`CHURNSEG_ARTIFACTS` (a folder) also receives the screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from churnseg.report.html import render_report
from tests.report.test_html import (
    IMG_ID,
    IMG_PAYLOAD,
    SCRIPT_ID,
    SCRIPT_PAYLOAD,
    synthetic_report_inputs,
)

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHURNSEG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "install them with `pip install playwright` (Python package) and "
    "`apt-get install -y chromium` (Debian's browser; do not run `playwright install`)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            f"the browser test needs the `playwright` Python package: {INSTALL_HINT}", pytrace=False
        )
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser test needs Chromium at {CHROMIUM} (set CHURNSEG_CHROMIUM to "
            f"use another path): {INSTALL_HINT}",
            pytrace=False,
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A page with every dialog (alert/confirm/prompt) and script error recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function(
            "() => window.churnReport && window.churnReport.ready", timeout=20_000
        )

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def column(self, cls: str) -> list[str]:
        return self.page.locator(f"#rows td.{cls}").all_inner_texts()

    def ranks(self) -> list[int]:
        return [int(x.replace(",", "")) for x in self.column("rank")]

    def matching(self) -> int:
        return self.page.evaluate("window.churnReport.matching()")

    def search(self, text: str) -> int:
        """Type into the search box and wait for the (debounced) filter; returns matches."""
        before = self.page.evaluate("window.churnReport.applied()")
        self.page.fill("#search", text)
        self.page.wait_for_function(f"() => window.churnReport.applied() > {before}")
        return self.matching()

    def choose(self, selector: str, label: str) -> None:
        """Select the option showing `label` (options read `label (count)`)."""
        value = self.page.eval_on_selector(
            selector,
            "(s, l) => { const o = Array.from(s.options).find("
            "o => o.textContent === l || o.textContent.startsWith(l + ' (')); "
            "return o ? o.value : null; }",
            label,
        )
        assert value is not None, f"no option {label!r} in {selector}"
        self.page.select_option(selector, value)

    def close(self) -> None:
        self.page.close()


def write_page(tmp_path: Path, inputs, name: str = "report.html", strip_csp: bool = False) -> Path:
    html = render_report(inputs.priority, inputs.summary, inputs.contributions, inputs.cfg)
    if strip_csp:
        # test the escaping itself, without the Content-Security-Policy safety net
        html, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
        assert n == 1
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def save_screenshot(page, tmp_path: Path, name: str, record_property) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=False)
    record_property(name, str(shot))
    target = os.environ.get("CHURNSEG_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)
    return shot


@pytest.fixture(scope="module")
def small():
    return synthetic_report_inputs(1000, seed=4, hostile=True)


def test_ranked_list_owner_filter_and_drilldown(browser, small, tmp_path, record_property):
    p = small.priority
    opened = Opened(browser, write_page(tmp_path, small))
    page = opened.page
    try:
        # ranked: page 1 is ranks 1..100 ascending, page 2 continues
        assert opened.ranks() == list(range(1, 101))
        page.click("#next")
        assert opened.ranks() == list(range(101, 201))
        page.click("#first")

        # sort by probability (descending), then back to rank
        page.click("button[data-sort=probability]")
        probs = [float(x.split("%")[0]) for x in opened.column("probability")]
        assert probs == sorted(probs, reverse=True)
        assert probs[0] == pytest.approx(100 * p["probability"].max(), abs=0.06)
        page.click("button[data-sort=priority_rank]")
        assert opened.ranks() == list(range(1, 101))

        # filter by an owner: only that owner's rows, all of them
        opened.choose("#f-owner", "csm_growth")
        expected = p[p["owner"] == "csm_growth"]
        assert opened.matching() == len(expected)
        owners = opened.column("owner")
        assert len(owners) == min(100, len(expected)) and set(owners) == {"csm_growth"}
        assert opened.ranks() == expected["priority_rank"].tolist()[:100]
        assert f"of {len(expected):,} matching" in page.inner_text("#status")

        # drill-down of the first row: contribution chart with red and green bars
        first = expected.iloc[0]
        page.locator("#rows tr").first.click()
        page.wait_for_selector("#detail:not([hidden])")
        assert first["account_id"] in page.inner_text("#detail-title")
        bars = page.locator("#detail-chart svg rect.contrib-bar")
        n_contrib = (small.contributions["account_id"] == first["account_id"]).sum()
        assert bars.count() == n_contrib > 0
        assert page.locator("#detail-chart svg").is_visible()
        fills = {b.evaluate("e => getComputedStyle(e).fill") for b in bars.all()}
        assert fills <= {"rgb(192, 57, 43)", "rgb(46, 125, 50)"} and len(fills) == 2
        save_screenshot(page, tmp_path, "report-drilldown.png", record_property)
        page.keyboard.press("Escape")
        assert page.locator("#detail").is_hidden()
        assert opened.dialogs == [] and opened.errors == []
    finally:
        opened.close()


def test_hostile_text_is_shown_literally_and_never_runs(browser, small, tmp_path, record_property):
    opened = Opened(browser, write_page(tmp_path, small, strip_csp=True))
    page = opened.page
    try:
        first_row = page.locator("#rows tr").first
        reasons = first_row.locator("td.reasons li").all_inner_texts()
        assert reasons[:3] == [SCRIPT_PAYLOAD, IMG_PAYLOAD, "=1+2"]
        assert page.inner_text("#meta-model") == f"churn {IMG_PAYLOAD}"
        queue = page.locator("#queues").get_by_text(f"csm_{SCRIPT_PAYLOAD}", exact=True)
        assert queue.is_visible()
        # an account whose id is a script tag: find it by search, open it
        assert opened.search("</script>m1") == 1
        assert opened.column("account") == [SCRIPT_ID]
        page.locator("#rows tr").first.click()
        assert page.inner_text("#detail-title").endswith(SCRIPT_ID)
        page.keyboard.press("Escape")
        assert opened.search(IMG_ID) == 1
        assert opened.column("account") == [IMG_ID]
        # segment labels: the top rows carry payloads in channel and region
        page.click("#reset")
        page.locator("#rows tr").first.click()
        fields = page.inner_text("#detail-fields")
        assert f"partner {SCRIPT_PAYLOAD}" in fields and IMG_PAYLOAD in fields
        # filter by the hostile queue and segment values through the selects
        page.keyboard.press("Escape")
        page.click("#reset")
        opened.choose("#f-owner", f"csm_{SCRIPT_PAYLOAD}")
        assert set(opened.column("owner")) == {f"csm_{SCRIPT_PAYLOAD}"}
        page.select_option("#f-family", "segment_channel")
        opened.choose("#f-segment", f"partner {SCRIPT_PAYLOAD}")
        assert opened.matching() == int(
            (
                (small.priority["segment_channel"] == f"partner {SCRIPT_PAYLOAD}")
                & (small.priority["owner"] == f"csm_{SCRIPT_PAYLOAD}")
            ).sum()
        )
        # an explained account whose contribution value is a script tag
        page.click("#reset")
        explained = small.contributions.iloc[0]["account_id"]
        assert opened.search(explained) == 1
        page.locator("#rows tr").first.click()
        assert SCRIPT_PAYLOAD in page.locator("#detail-contrib").inner_text()
        save_screenshot(page, tmp_path, "report-hostile.png", record_property)
        assert page.locator("img").count() == 0
        assert page.locator("script").count() == 4  # nothing was added to the document
        assert opened.dialogs == []
        assert opened.errors == []
        assert page.evaluate("typeof window.__pwned") == "undefined"
    finally:
        opened.close()


def test_50k_report_loads_and_filters(browser, tmp_path, record_property):
    big = synthetic_report_inputs(50_000, seed=5)
    p = big.priority
    opened = Opened(browser, write_page(tmp_path, big, "report-50k.html"))
    page = opened.page
    try:
        assert opened.matching() == 50_000
        assert opened.ranks() == list(range(1, 101))
        opened.choose("#f-owner", "automated_campaign")
        auto = p[p["owner"] == "automated_campaign"]
        assert opened.matching() == len(auto)
        assert opened.ranks() == auto["priority_rank"].tolist()[:100]
        opened.choose("#f-region", "EU")
        both = auto[auto["segment_region"] == "EU"]
        assert opened.matching() == len(both)
        page.click("#last")
        assert opened.ranks() == both["priority_rank"].tolist()[(len(both) - 1) // 100 * 100 :]
        page.click("#reset")
        target = p["account_id"].iloc[31_337]
        assert opened.search(target) == 1
        assert opened.column("account") == [target]
        timings = page.evaluate("window.churnReport.timings")
        record_property("timings_50k", timings)
        assert opened.errors == []
    finally:
        opened.close()
