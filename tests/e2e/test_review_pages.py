"""The coder review pages in headless chromium, against the fake review API."""

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from tests.e2e.browsing import css, wait
from tests.e2e.conftest import SCREENS_COPY, ReviewSite
from tests.e2e.fake_review_api import NOTE

pytestmark = pytest.mark.browser


def open_encounter(browser: WebDriver, site: ReviewSite, encounter_id: int) -> None:
    browser.get(f"{site.url}/review/encounters/{encounter_id}")
    wait(browser, lambda d: css(d, "#note-text mark.ev") and css(d, "#suggestions li.sugg"))
    # the first edit check answers before the page is ready to submit
    wait(browser, lambda d: "checking" not in d.find_element(By.ID, "edits-state").text)


def suggestion(browser: WebDriver, code: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f'#suggestions li.sugg[data-code="{code}"]')


def decide(browser: WebDriver, code: str, button: str) -> None:
    """Click a suggestion, then one of its buttons (shown on the selected suggestion)."""
    item = suggestion(browser, code)
    item.click()
    suggestion(browser, code).find_element(By.CSS_SELECTOR, f"button.{button}").click()


def final_codes(browser: WebDriver) -> list[str]:
    return [li.get_attribute("data-code") or "" for li in css(browser, "#final-list li")]


def selected_index(browser: WebDriver) -> str | None:
    return browser.find_element(By.CSS_SELECTOR, "#suggestions li.sugg.selected").get_attribute(
        "data-index"
    )


def press(browser: WebDriver, *keys: str) -> None:
    browser.find_element(By.TAG_NAME, "body").send_keys(*keys)


def test_sign_in_page_has_a_token_field_and_the_csrf_token(
    browser: WebDriver, site: ReviewSite
) -> None:
    browser.get(f"{site.url}/review/login")
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/review/login']")
    assert form.get_attribute("method") == "post"
    token = form.find_element(By.NAME, "token")
    assert token.get_attribute("type") == "password"
    assert browser.find_element(By.CSS_SELECTOR, "label[for='token']").text == "Access token"
    csrf = form.find_element(By.NAME, "csrf_token")
    assert csrf.get_attribute("type") == "hidden"
    assert csrf.get_attribute("value") == "test-csrf-token"
    browser.get(f"{site.url}/review/login?error=<b>phish</b>")
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "phish" not in alert and "not accepted" in alert


def test_queue_shows_counts_and_rows_and_filters_change_the_request(
    browser: WebDriver, site: ReviewSite
) -> None:
    browser.get(f"{site.url}/review")
    wait(browser, lambda d: len(css(d, "#queue-rows tr.row")) == 50)
    counts = {n.get_attribute("data-count"): n.text for n in css(browser, "[data-count]")}
    assert counts == {"new": "40", "in_review": "8", "reviewed": "12"}
    assert "Page 1 of 2" in browser.find_element(By.ID, "page-info").text

    Select(browser.find_element(By.ID, "f-status")).select_by_value("reviewed")
    wait(browser, lambda d: len(css(d, "#queue-rows tr.row")) == 12)
    assert site.api.queue_queries[-1]["status"] == "reviewed"
    Select(browser.find_element(By.ID, "f-sort")).select_by_value("confidence")
    wait(browser, lambda d: site.api.queue_queries[-1].get("sort") == "confidence")
    assert site.api.queue_queries[-1]["status"] == "reviewed"
    scores_js = (
        "return Array.from(document.querySelectorAll('#queue-rows .score'))"
        ".map(function (n) { return parseFloat(n.textContent); })"
    )
    wait(browser, lambda d: d.execute_script(scores_js) == sorted(d.execute_script(scores_js)))

    browser.find_element(By.CSS_SELECTOR, "button.count[data-status='in_review']").click()
    wait(browser, lambda d: site.api.queue_queries[-1].get("status") == "in_review")
    wait(browser, lambda d: len(css(d, "#queue-rows tr.row")) == 8)
    browser.find_element(By.ID, "f-model").send_keys("20261201-d4e5f6")
    wait(browser, lambda d: site.api.queue_queries[-1].get("model_version") == "20261201-d4e5f6")
    wait(browser, lambda d: len(css(d, "#queue-rows tr.row")) == 4)

    first = css(browser, "#queue-rows a.open")[0]
    href = first.get_attribute("href") or ""
    first.send_keys(Keys.ENTER)
    wait(browser, lambda d: urlparse(d.current_url).path == urlparse(href).path)
    assert urlparse(href).path.startswith("/review/encounters/")


def test_encounter_highlights_evidence_with_its_assertion(
    browser: WebDriver, site: ReviewSite
) -> None:
    open_encounter(browser, site, 1)
    note = browser.find_element(By.ID, "note-text")
    # the note is text: its markup is shown, never run or parsed
    assert note.get_property("textContent") == NOTE
    assert not css(note, "b, script")
    assert browser.execute_script("return window.injected === undefined")
    for assertion in ("present", "negated", "possible", "hypothetical", "historical", "family"):
        assert css(note, f"mark.ev.ev-{assertion}"), assertion
    negated = css(note, "mark.ev-negated")[0]
    assert negated.text.startswith("chest pain")
    decoration = browser.execute_script(
        "return getComputedStyle(arguments[0]).textDecorationLine", negated
    )
    assert "line-through" in decoration
    assert browser.find_element(By.CSS_SELECTOR, ".legend mark.ev-negated").text == "negated"
    assert site.api.claims == [1]
    assert site.api.csrf_headers and set(site.api.csrf_headers) == {"test-csrf-token"}

    suggestion(browser, "R07.9").click()
    selected = css(note, "mark.selected")
    assert [m.text for m in selected] == ["chest pain"]
    suggestion(browser, "E11.621").click()
    selected = css(note, "mark.selected")
    assert len(selected) >= 2 and all(
        "ev-negated" not in (m.get_attribute("class") or "") for m in selected
    )
    rec = suggestion(browser, "J18.9")
    assert "recommended" in rec.text and "0.93" in rec.text
    assert "integral to J18.9" in suggestion(browser, "R05.9").text


def test_accept_reject_add_acknowledge_and_submit(browser: WebDriver, site: ReviewSite) -> None:
    open_encounter(browser, site, 1)
    # recommended codes start on the claim, waiting for the coder's word
    assert final_codes(browser) == ["J18.9", "E11.621", "I25.2", "L97.419", "Z80.3"]
    assert "Principal dx" in css(browser, "#final-list li")[0].text

    decide(browser, "J18.9", "accept")
    decide(browser, "L97.419", "reject")
    suggestion(browser, "L97.419").find_element(By.CSS_SELECTOR, ".reason input").send_keys(
        "ulcer not documented as chronic"
    )
    assert final_codes(browser) == ["J18.9", "E11.621", "I25.2", "Z80.3"]

    search = browser.find_element(By.ID, "code-search")
    search.send_keys("hyperlip")
    wait(browser, lambda d: css(d, '#search-results li.result[data-code="E78.5"]'))
    css(browser, '#search-results li.result[data-code="E78.5"]')[0].click()
    assert final_codes(browser) == ["J18.9", "E11.621", "I25.2", "Z80.3", "E78.5"]

    warning = wait(browser, lambda d: css(d, "#edits li.edit.warning"))[0]
    assert "site of the ulcer" in warning.text and "I.A.13" in warning.text
    submit = browser.find_element(By.ID, "submit")
    assert not submit.is_enabled()
    warning.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    wait(browser, lambda d: submit.is_enabled())
    submit.click()

    wait(browser, lambda d: urlparse(d.current_url).path == "/review/encounters/2")
    [sent] = site.api.submissions
    assert sent["if_match"] == '"1"'
    body = sent["body"]
    assert body["run_id"] == 41
    assert body["acknowledge_warnings"] is True
    assert body["seconds_spent"] >= 1
    assert body["codes"] == [
        {"system": "icd10cm", "code": "J18.9", "source": "suggested"},
        {"system": "icd10cm", "code": "E11.621", "source": "suggested"},
        {"system": "icd10cm", "code": "I25.2", "source": "suggested"},
        {"system": "icd10cm", "code": "Z80.3", "source": "suggested"},
        {"system": "icd10cm", "code": "E78.5", "source": "added"},
    ]
    decisions = {d["code"]: d for d in body["decisions"]}
    assert decisions["L97.419"] == {
        "system": "icd10cm",
        "code": "L97.419",
        "decision": "rejected",
        "reason": "ulcer not documented as chronic",
    }
    assert {c for c, d in decisions.items() if d["decision"] == "accepted"} == {
        "J18.9",
        "E11.621",
        "I25.2",
        "Z80.3",
    }
    # the edits were checked on the very list submitted (the next encounter may check its own)
    assert [
        {"system": "icd10cm", "code": c} for c in ["J18.9", "E11.621", "I25.2", "Z80.3", "E78.5"]
    ] in site.api.edit_requests


def test_keyboard_drives_the_review(browser: WebDriver, site: ReviewSite) -> None:
    open_encounter(browser, site, 3)
    assert selected_index(browser) == "0"
    press(browser, "j")
    press(browser, "j")
    assert selected_index(browser) == "2"
    press(browser, "k")
    assert selected_index(browser) == "1"
    press(browser, Keys.ARROW_DOWN)
    assert selected_index(browser) == "2"
    press(browser, "a")
    assert "state-accepted" in (suggestion(browser, "I25.2").get_attribute("class") or "")
    press(browser, "j", "r")
    assert "L97.419" not in final_codes(browser)
    press(browser, "u")
    assert "L97.419" in final_codes(browser)
    assert "state-pending" in (suggestion(browser, "L97.419").get_attribute("class") or "")

    press(browser, "/")
    search = browser.find_element(By.ID, "code-search")
    assert browser.switch_to.active_element == search
    search.send_keys("jar")  # typing is not taken for keys
    assert selected_index(browser) == "3"
    search.send_keys(Keys.ESCAPE, Keys.ESCAPE)

    press(browser, "?")
    dialog = browser.find_element(By.ID, "keys-dialog")
    assert dialog.get_attribute("open") is not None and "accept" in dialog.text
    press(browser, Keys.ESCAPE)
    wait(browser, lambda d: dialog.get_attribute("open") is None)
    keys = browser.find_element(By.ID, "key-list").text
    for word in ("accept", "reject", "undo", "search", "submit"):
        assert word in keys

    # sequencing from the keyboard: Z80.3 to the top raises the sequencing warning
    z80 = browser.find_element(By.CSS_SELECTOR, '#final-list li[data-code="Z80.3"]')
    z80.send_keys(Keys.ALT, Keys.ARROW_UP)
    for _ in range(3):
        browser.switch_to.active_element.send_keys(Keys.ALT, Keys.ARROW_UP)
    assert final_codes(browser)[0] == "Z80.3"
    assert "Principal dx" in css(browser, "#final-list li")[0].text
    warning = wait(browser, lambda d: css(d, "#edits li.edit.warning"))[0]
    assert "principal" in warning.text
    browser.switch_to.active_element.send_keys(Keys.ALT, Keys.ARROW_DOWN)
    wait(browser, lambda d: not css(d, "#edits li.edit.warning"))
    assert final_codes(browser)[:2] == ["J18.9", "Z80.3"]

    press(browser, Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: site.api.submissions)
    assert site.api.submissions[0]["body"]["codes"][0]["code"] == "J18.9"


def test_hard_stop_blocks_submit_and_a_conflict_offers_a_reload(
    browser: WebDriver, site: ReviewSite
) -> None:
    open_encounter(browser, site, 4)
    search = browser.find_element(By.ID, "code-search")
    search.send_keys("E11.62")
    wait(browser, lambda d: css(d, '#search-results li.result[data-code="E11.62"]'))
    search.send_keys(Keys.ENTER)  # the first match, E11.62, a heading
    hard = wait(browser, lambda d: css(d, "#edits li.edit.hard"))[0]
    assert "hard stop" in hard.text
    submit = browser.find_element(By.ID, "submit")
    assert not submit.is_enabled()
    assert "hard stop" in browser.find_element(By.ID, "submit-why").text
    color = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", hard)
    assert color == "rgb(253, 232, 232)"

    browser.find_element(By.CSS_SELECTOR, "#final-list li[data-code='E11.62'] .remove").click()
    wait(browser, lambda d: submit.is_enabled())
    site.api.conflict_on_submit = True
    submit.click()
    alert = wait(browser, lambda d: [a for a in css(d, "#submit-alert") if a.is_displayed()])[0]
    assert "Someone else submitted" in alert.text and "version 2" in alert.text
    assert alert.find_element(By.ID, "reload").is_displayed()


def test_analytics_draws_tables_and_charts(browser: WebDriver, site: ReviewSite) -> None:
    browser.get(f"{site.url}/review/analytics")
    wait(browser, lambda d: css(d, "#chart-by-code svg"))
    assert len(css(browser, "#chart-by-code svg rect.bar")) == 8
    assert len(css(browser, "#chart-by-rank svg rect.bar")) == 10
    assert css(browser, "#chart-by-rank svg polyline.trend")
    assert len(css(browser, "#chart-by-model svg rect.bar")) == 2
    assert len(css(browser, "#chart-throughput svg rect.bar")) == 8
    assert len(css(browser, "#chart-time svg rect.bar")) == 10
    assert "E78.5" in browser.find_element(By.ID, "table-missed").text
    assert "integral to J18.9 (9)" in browser.find_element(By.ID, "table-rejected").text
    assert "alice" in browser.find_element(By.ID, "table-coders").text
    assert "128 reviews" in browser.find_element(By.ID, "an-summary").text


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)], ids=["1280x800", "1920x1080"])
def test_screenshots(
    browser: WebDriver, site: ReviewSite, screens: Path, size: tuple[int, int]
) -> None:
    """Pictures of each page for a person to look at (kept in /tmp/medcode-screens too)."""
    width, height = size
    # The page's own viewport at exactly that size (a window's size includes its frame).
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        pages = {
            "queue": (f"{site.url}/review", "#queue-rows tr.row"),
            "encounter": (f"{site.url}/review/encounters/5", "#note-text mark.ev"),
            "analytics": (f"{site.url}/review/analytics", "#chart-by-code svg"),
        }
        SCREENS_COPY.mkdir(parents=True, exist_ok=True)
        for name, (url, ready) in pages.items():
            browser.get(url)
            wait(browser, lambda d: css(d, ready))  # noqa: B023 - called before the loop moves on
            if name == "encounter":
                decide(browser, "J18.9", "accept")
                decide(browser, "L97.419", "reject")
                wait(browser, lambda d: css(d, "#edits li.edit.warning"))
                suggestion(browser, "R07.9").click()  # a negated finding, struck through
            path = screens / f"{name}-{width}x{height}.png"
            assert browser.save_screenshot(str(path))
            shutil.copy(path, SCREENS_COPY / path.name)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
