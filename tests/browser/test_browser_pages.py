"""Every page type in a real browser (headless Chromium), on the seed data: rendering, links,
search, login, publishing a version and reading its diff, a quick experiment run followed to
its plot, the graph view, a phone-width viewport and pages without JavaScript."""

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    INBOX_TITLES,
    Site,
    Watch,
    require_chromium,
    screenshot,
    watched_context,
)

require_chromium()
pytestmark = pytest.mark.once  # each xdist worker starts its own server and browser
WAIT_FOR_RUN_MS = 240_000

# Every form control has a label, every image a text alternative, each page one h1.
A11Y_PROBLEMS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label');
    if (!labelled) bad.push(el.outerHTML.slice(0, 90));
  }
  for (const img of document.querySelectorAll('img')) {
    if (!img.getAttribute('alt')) bad.push(img.outerHTML.slice(0, 90));
  }
  if (document.documentElement.lang !== 'en') bad.push('html has no lang');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) bad.push(h1 + ' h1 elements');
  return bad;
}"""


def visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    check_page(page)


def check_page(page: Page) -> None:
    assert page.evaluate(A11Y_PROBLEMS) == [], page.url
    expect(page.locator("header.site")).to_be_visible()


def follow(page: Page, link: str, url_pattern: str) -> None:
    """Click the first link matching the selector and land on a page matching the URL."""
    page.locator(link).first.click()
    page.wait_for_url(re.compile(url_pattern))
    check_page(page)


def test_every_page_type_renders_and_links_lead_on(page: Page) -> None:
    visit(page, "/")
    for heading in ("Problems", "Open tensions", "Latest narrative versions", "Recent additions"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    assert page.locator("ul.cards > li").count() == 7  # the seed's seven problems
    page.locator("details summary").first.click()  # a problem's known facts unfold
    expect(page.locator("details[open] li").first).to_be_visible()
    screenshot(page, "home")

    title = page.locator("ul.cards h3 a").first.inner_text()
    follow(page, "ul.cards h3 a", r"/problems/[\w-]+$")
    expect(page.locator("h1")).to_have_text(title.split(". ", 1)[1])
    expect(page.get_by_role("heading", name="Open", exact=True)).to_be_visible()

    follow(page, "main ul.plain li > a[href^='/claims/']", r"/claims/[\w-]+$")
    supporting = page.get_by_role("region", name="Supporting evidence")
    assert supporting.locator("li a[href^='/sources/']").count() >= 1
    follow(page, "section.supporting a[href^='/sources/']", r"/sources/\d+$")
    expect(page.get_by_role("heading", name="The work and its copies")).to_be_visible()

    visit(page, "/")
    follow(page, "a[href^='/tensions/']", r"/tensions/[\w-]+$")
    assert page.locator("section.side").count() >= 2
    assert page.locator("h2:has-text('Status history') + ol > li").count() >= 1
    screenshot(page, "tension")
    follow(page, "section.side a[href^='/perspectives/']", r"/actors/\d+#perspective-\d+$")
    anchor = page.url.split("#", 1)[1]
    expect(page.locator(f"#{anchor}")).to_be_visible()

    visit(page, "/threads")
    follow(page, "main a[href^='/threads/']", r"/threads/[\w-]+$")
    follow(page, "a:has-text('Version 6')", r"/versions/6$")
    expect(page.locator("h1")).to_contain_text("history")
    citation = page.locator("main p a[href^='#source-']").first
    target = citation.get_attribute("href")
    citation.click()
    expect(page.locator(str(target))).to_be_attached()
    assert page.locator("ol > li[id^='source-']").count() >= 30

    visit(page, "/experiments")
    follow(page, "ul.cards a[href^='/experiments/']", r"/experiments/\w+$")
    expect(page.get_by_role("form", name="Start a run")).to_be_visible()

    for redirecting, lands in (
        ("/works/1", r"/sources/\d+$"),
        ("/events/1", r"/threads/\d+#event-1$"),
    ):
        page.goto(redirecting)
        page.wait_for_url(re.compile(lands))
        check_page(page)


def test_search_highlights_the_words_and_leads_to_results(page: Page, watch: Watch) -> None:
    visit(page, "/")
    page.get_by_label("Search the debate").fill("memorization")
    page.get_by_label("Search the debate").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=memorization"))
    check_page(page)
    marks = page.locator("main mark").all_inner_texts()
    assert len(marks) >= 3 and all(m.lower().startswith("memoriz") for m in marks), marks
    kinds = set(page.locator("main ol .badge").all_inner_texts())
    assert {"source", "tension", "claim"} <= kinds, kinds
    page.get_by_label("Only").select_option("tension")
    page.get_by_role("button", name="Search").last.click()
    page.wait_for_url(re.compile(r"type=tension"))
    assert set(page.locator("main ol .badge").all_inner_texts()) == {"tension"}
    follow(page, "main ol li > a", r"/tensions/\d+$")

    watch.allowed_status.add(400)
    response = page.goto("/search?q=%21%21%21")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("no searchable words")


def test_login_then_publish_a_version_and_read_its_diff(
    page: Page, site: Site, watch: Watch
) -> None:
    watch.allowed_status.update({401, 422})
    visit(page, "/threads/1")
    expect(page.get_by_role("form", name="Publish the next version")).to_have_count(0)
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Token").fill("atlas_not_a_token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    page.get_by_label("Token").fill(site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/threads/1$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    narrative = "Version seven: a browser test restates where memorization stands [1]."
    page.get_by_label(re.compile("^Narrative")).fill(narrative)
    page.get_by_role("button", name="Publish version 7").click()
    page.wait_for_url(re.compile(r"/versions/7$"))
    check_page(page)
    expect(page.locator("main p", has_text="Version seven")).to_be_visible()
    follow(page, "a:has-text('What changed since version 6')", r"/diff\?from=6&to=7$")
    added = page.locator("pre .add").all_inner_texts()
    assert any("Version seven" in line for line in added), added
    assert page.locator("pre .del").count() >= 1  # version 6's narrative went (headers: no class)
    assert not any(line.startswith("---") for line in page.locator("pre .del").all_inner_texts())

    visit(page, "/threads/1")  # the same diff through the compare form
    page.get_by_label("From", exact=True).select_option("6")
    page.get_by_label("To", exact=True).select_option("7")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/diff\?from=6&to=7$"))
    expect(page.locator("h1")).to_have_text("What changed: version 6 → 7")

    # A logged-in curator may set parameters; a bad one is named, and nothing is queued.
    visit(page, "/experiments/benign_overfitting")
    page.locator("details summary").click()
    page.get_by_label(re.compile("^N Values")).fill("50, many")
    page.get_by_role("button", name="Start the run").click()
    expect(page.get_by_role("alert")).to_contain_text("params.n_values")
    assert "/runs/" not in page.url

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    visit(page, "/threads/1")
    expect(page.get_by_role("form", name="Publish the next version")).to_have_count(0)


def test_curating_the_inbox(page: Page, site: Site) -> None:
    visit(page, "/threads/1")
    follow(page, "a:has-text('Inbox')", r"/threads/[\w-]+/inbox$")
    items = page.locator("ol.results > li")
    expect(items).to_have_count(len(INBOX_TITLES))
    expect(page.get_by_text("Likely bears on:").first).to_be_visible()
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)  # not logged in
    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Token").fill(site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/inbox$"))
    grokking = items.filter(has_text=INBOX_TITLES[0])
    grokking.get_by_label("Reason").fill("Bears on the grokking claim")
    grokking.get_by_role("button", name="Accept").click()
    page.wait_for_url(re.compile(r"/inbox$"))
    check_page(page)
    expect(items).to_have_count(len(INBOX_TITLES) - 1)
    page.get_by_role("link", name="accepted", exact=True).click()
    expect(page.locator("ol.results > li")).to_contain_text(
        "Accepted by browser tests: Bears on the grokking claim"
    )
    follow(page, "ol.results a[href^='/sources/']", r"/sources/\d+$")
    expect(page.locator("h1")).to_have_text(INBOX_TITLES[0])
    page.get_by_role("button", name="Log out").click()


def test_a_quick_run_shows_progress_then_its_plot(page: Page) -> None:
    visit(page, "/experiments/benign_overfitting")
    page.get_by_label("Seed").fill("11")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    seen: list[float] = []
    deadline = time.monotonic() + WAIT_FOR_RUN_MS / 1000
    while page.locator("figure img").count() == 0:
        value = page.evaluate(
            "() => { const p = document.getElementById('progress'); return p ? p.value : null; }"
        )
        if value is not None:
            seen.append(float(value))
        assert time.monotonic() < deadline, "the run did not finish"
        page.wait_for_timeout(200)
    assert seen, "the page never showed the run's progress"
    assert seen == sorted(seen), seen
    plot = page.locator("figure img")
    expect(plot).to_be_visible()
    page.wait_for_function("() => document.querySelector('figure img').naturalWidth > 0")
    expect(page.locator(".verdict").first).to_have_text("reproduced")  # the quick preset's verdict
    check_page(page)
    screenshot(page, "run")
    follow(page, "a:has-text('claim')", r"/claims/\d+$")


def test_the_graph_view_tells_types_apart_and_links_to_pages(page: Page) -> None:
    visit(page, "/graph?node=tension:2&k=2")
    svg = page.locator(".graph svg")
    expect(svg).to_be_visible()
    two_hops = svg.locator("a[data-node]").count()
    assert two_hops >= 20
    types = {
        n.split(":")[0]
        for n in svg.locator("a[data-node]").evaluate_all("a => a.map(x => x.dataset.node)")
    }
    fills = set(svg.locator("polygon").evaluate_all("ps => ps.map(p => p.getAttribute('fill'))"))
    assert len(types) >= 4 and len(fills) >= len(types) - 1, (types, fills)
    assert svg.locator("line[stroke-dasharray]").count() >= 1  # a contesting edge
    screenshot(page, "graph")

    page.get_by_label("Hops").select_option("1")
    page.get_by_role("button", name="Draw").click()
    page.wait_for_url(re.compile(r"k=1"))
    assert 0 < svg.locator("a[data-node]").count() < two_hops
    claim = svg.locator("a[data-node^='claim:']").first
    node_id = claim.get_attribute("data-node")
    claim.locator("polygon").click()  # the shape: the link's box is mostly empty
    page.wait_for_url(re.compile(rf"/claims/{str(node_id).split(':')[1]}$"))
    check_page(page)
    follow(page, "a:has-text('See it in the graph')", r"/graph\?node=claim:\d+$")


PHONE_PAGES = [
    "/",
    "/problems/1",
    "/claims/1",
    "/tensions/2",
    "/sources/2",
    "/actors/1",
    "/search?q=benign+overfitting",
    "/threads/1",
    "/threads/1/versions/6",
    "/experiments",
    "/experiments/benign_overfitting",
    "/graph?node=claim:1",
    "/threads/1/inbox",
]


def test_pages_fit_a_phone_width(browser: Browser, site: Site) -> None:
    watch = Watch()
    context = watched_context(browser, site, watch, viewport={"width": 390, "height": 844})
    page = context.new_page()
    for path in PHONE_PAGES:
        visit(page, path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    context.close()
    watch.check()


def test_pages_work_without_javascript(browser: Browser, site: Site) -> None:
    watch = Watch()
    context = watched_context(browser, site, watch, java_script_enabled=False)
    page = context.new_page()
    visit(page, "/search?q=grokking")
    assert page.locator("main mark").count() >= 1
    visit(page, "/experiments/benign_overfitting")
    page.get_by_label("Preset").select_option("control")
    page.get_by_label("Seed").fill("12")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    # No script: the page reloads itself (meta refresh) until the plot is there.
    expect(page.locator("figure img")).to_be_visible(timeout=WAIT_FOR_RUN_MS)
    expect(page.locator(".verdict").first).to_have_text("not reproduced")  # the control's verdict
    context.close()
    watch.check()
