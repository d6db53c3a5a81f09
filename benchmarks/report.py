"""The priority page at 50k accounts against 1k: render time, file size, browser load and filters.

Inputs are synthetic scoring outputs (tests/report/test_html.py: `synthetic_report_inputs`);
the browser is headless Debian Chromium driven by Playwright (pip install playwright;
apt-get install -y chromium). Load = `goto(file://...)` until the page's script has rendered the
first page of rows; filter/sort/search times are measured inside the page around the filter pass
(search excludes its 150 ms typing debounce); each is the median of `--repeat` runs.
Usage: python -m benchmarks.report [--accounts 1000 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine
from tests.report.test_browser import CHROMIUM, CHROMIUM_ARGS  # one browser setup for both


def build(n: int, folder: Path) -> dict:
    from churnseg.report.html import render_report
    from tests.report.test_html import synthetic_report_inputs

    inputs = synthetic_report_inputs(n, seed=11)
    t = time.perf_counter()
    html = render_report(inputs.priority, inputs.summary, inputs.contributions, inputs.cfg)
    render_s = time.perf_counter() - t
    path = folder / f"report-{n}.html"
    path.write_text(html, encoding="utf-8")
    busiest = inputs.priority["owner"].value_counts().index[0]
    return {
        "accounts": n,
        "path": path,
        "render_s": render_s,
        "size_mb": path.stat().st_size / 1e6,
        "owner": busiest,
        "account": inputs.priority["account_id"].iloc[n // 2],
        "explained": int(inputs.contributions["account_id"].nunique()),
    }


def last_pass(page, action, *args, **kwargs) -> float:
    """Do `action` and return the in-page time of the filter/sort pass it triggered (ms)."""
    before = page.evaluate("window.churnReport.applied()")
    action(*args, **kwargs)
    page.wait_for_function(f"() => window.churnReport.applied() > {before}")
    return page.evaluate("window.churnReport.timings.last_filter_ms")


def measure(browser, case: dict, repeat: int) -> dict:
    loads, parse, first, owner, region, sort, search, drill = ([] for _ in range(8))
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        page.goto(case["path"].resolve().as_uri())
        page.wait_for_function("() => window.churnReport && window.churnReport.ready")
        loads.append(1000 * (time.perf_counter() - t))
        timings = page.evaluate("window.churnReport.timings")
        parse.append(timings["parse_ms"])
        first.append(timings["first_render_ms"])

        owner_value = page.eval_on_selector(
            "#f-owner",
            "(s, l) => Array.from(s.options).find(o => o.textContent.startsWith(l + ' (')).value",
            case["owner"],
        )
        owner.append(last_pass(page, page.select_option, "#f-owner", owner_value))
        region.append(last_pass(page, page.select_option, "#f-region", index=1))
        page.click("#reset")
        sort.append(last_pass(page, page.click, "button[data-sort=probability]"))
        search.append(last_pass(page, page.fill, "#search", case["account"]))
        t = time.perf_counter()
        page.locator("#rows tr").first.click()
        page.wait_for_selector("#detail:not([hidden])")
        drill.append(1000 * (time.perf_counter() - t))
        page.close()
    med = statistics.median
    return {
        "load_ms": med(loads),
        "parse_ms": med(parse),
        "first_render_ms": med(first),
        "filter_owner_ms": med(owner),
        "filter_owner_region_ms": med(region),
        "sort_probability_ms": med(sort),
        "search_ms": med(search),
        "drilldown_ms": med(drill),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[1_000, 50_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in args.accounts:
            case = build(n, Path(tmp))
            results.append(
                {
                    **{k: v for k, v in case.items() if k != "path"},
                    **measure(browser, case, args.repeat),
                }
            )
        version = browser.version
        browser.close()
    print(f"machine: {machine()}")
    print(f"browser: Chromium {version} (headless), median of {args.repeat} loads")
    keys = [
        ("size_mb", "HTML size MB", "{:.1f}"),
        ("render_s", "render (Python) s", "{:.2f}"),
        ("load_ms", "load ms", "{:.0f}"),
        ("parse_ms", "  JSON parse ms", "{:.0f}"),
        ("first_render_ms", "  script to 1st page ms", "{:.0f}"),
        ("filter_owner_ms", "filter owner ms", "{:.1f}"),
        ("filter_owner_region_ms", "filter +region ms", "{:.1f}"),
        ("sort_probability_ms", "sort probability ms", "{:.1f}"),
        ("search_ms", "search account ms", "{:.1f}"),
        ("drilldown_ms", "drill-down ms", "{:.0f}"),
    ]
    head = f"{'':<24}" + "".join(f"{r['accounts']:>12,}" for r in results)
    if len(results) == 2:
        head += f"{'ratio':>10}"
    print(head)
    for key, label, spec in keys:
        line = f"{label:<24}" + "".join(f"{spec.format(r[key]):>12}" for r in results)
        if len(results) == 2 and results[0][key]:
            line += f"{results[1][key] / results[0][key]:>9.1f}x"
        print(line)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
