"""A coder's whole review in headless chromium against the real app: an EHR stores a note
through /suggest, the coder signs in with a token, opens it from the queue, sees the
evidence highlighted, accepts one suggestion, rejects one, adds a code through the search
box, acknowledges the warning it raises and submits; the review and the audit rows are in
the database, and the analytics page counts it. On SQLite and PostgreSQL."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx2 as httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.config import Settings
from app.db.repository import Repository
from app.db.session import Database
from app.main import create_app
from app.services.suggest import SuggestService
from tests.api.review_support import add_users, review_settings
from tests.e2e.browsing import css, wait
from tests.e2e.conftest import SCREENS_COPY
from tests.servers import serve_in_thread

pytestmark = pytest.mark.browser

NOTE = (
    "DISCHARGE SUMMARY\n\n"
    "History of present illness: 64-year-old man admitted with fever, productive cough and\n"
    "dyspnea. Chest radiograph showed a right lower lobe infiltrate. He denies chest pain.\n\n"
    "Past medical history: essential hypertension; type 2 diabetes mellitus.\n\n"
    "Assessment and plan:\n"
    "1. Community-acquired pneumonia of the right lower lobe: ceftriaxone and azithromycin.\n"
    "2. Type 2 diabetes mellitus: metformin continued.\n"
    "3. Essential hypertension: lisinopril continued.\n"
)
# Added by hand: its notes ask for the stage of chronic kidney disease, a warning.
ADDED = "I12.9"


@pytest.fixture
def site(
    var_dir: Path,
    data_dir: Path,
    database_url: str,
    service: SuggestService,
) -> Iterator[tuple[str, dict[str, str], Database]]:
    database = Database.from_url(database_url)
    tokens = add_users(database)
    settings: Settings = review_settings(var_dir, data_dir, database_url)
    try:
        with serve_in_thread(create_app(settings, service, database)) as url:
            yield url, tokens, database
    finally:
        database.dispose()


def test_a_coder_reviews_a_stored_note_end_to_end(
    browser: WebDriver, site: tuple[str, dict[str, str], Database], tmp_path: Path
) -> None:
    url, tokens, database = site
    stored = httpx.post(
        f"{url}/suggest",
        json={"text": NOTE, "store": True, "encounter_id": "adm-77", "setting": "inpatient"},
        headers={"Authorization": f"Bearer {tokens['feed']}"},
        timeout=60,
    )
    assert stored.status_code == 200, stored.text
    encounter_id = stored.json()["encounter_id"]
    suggested = [s["code"] for s in stored.json()["suggestions"] if s["evidence"]]
    assert len(suggested) >= 2

    # Not signed in: the pages send the browser to the login page.
    browser.delete_all_cookies()
    browser.get(f"{url}/review")
    wait(browser, lambda d: urlparse(d.current_url).path == "/review/login")
    browser.find_element(By.NAME, "token").send_keys(tokens["alice"])
    browser.find_element(By.CSS_SELECTOR, "form[action='/review/login'] button").click()
    wait(browser, lambda d: urlparse(d.current_url).path == "/review")
    row = wait(browser, lambda d: css(d, "#queue-rows tr.row a.open"))[0]
    assert row.text == "adm-77"
    row.click()

    wait(browser, lambda d: urlparse(d.current_url).path == f"/review/encounters/{encounter_id}")
    wait(browser, lambda d: css(d, "#note-text mark.ev") and css(d, "#suggestions li.sugg"))
    wait(browser, lambda d: "checking" not in d.find_element(By.ID, "edits-state").text)
    # The denied chest pain is struck through wherever it is shown as evidence.
    negated = css(browser, "#note-text mark.ev-negated")
    assert all("line-through" in m.value_of_css_property("text-decoration") for m in negated)

    first, second = suggested[0], suggested[1]
    _decide(browser, first, "accept")
    assert css(browser, "#note-text mark.ev.selected")  # its evidence lights up
    _decide(browser, second, "reject")

    search = browser.find_element(By.ID, "code-search")
    search.send_keys(ADDED)
    wait(browser, lambda d: css(d, f'#search-results li.result[data-code="{ADDED}"]'))[0].click()
    warning = wait(
        browser,
        lambda d: [w for w in css(d, "#edits li.edit.warning") if ADDED in w.text],
    )[0]
    assert "stage of chronic kidney disease" in warning.text
    submit = browser.find_element(By.ID, "submit")
    assert not submit.is_enabled()
    for box in css(browser, "#edits li.edit.warning input[type=checkbox]"):
        box.click()
    wait(browser, lambda d: submit.is_enabled())
    _screenshot(browser, tmp_path)
    submit.click()
    wait(browser, lambda d: urlparse(d.current_url).path == "/review")

    with database.session_scope() as session:
        repository = Repository(session)
        (review,) = repository.reviews(encounter_id)
        codes = [(c.sequence, c.code, c.source) for c in review.codes]
        assert (first, "suggested") in {(c, s) for _, c, s in codes}
        assert (ADDED, "added") in {(c, s) for _, c, s in codes}
        assert second not in {c for _, c, _ in codes}
        assert [n for n, _, _ in codes] == list(range(1, len(codes) + 1))
        decisions = {d.code: d.decision for d in review.decisions}
        assert decisions[first] == "accepted" and decisions[second] == "rejected"
        assert review.coder.name == "alice"
        actions = [entry.action for entry in repository.audit_timeline(encounter_id)]
        for action in ("encounter.store", "encounter.read", "encounter.claim", "review.submit"):
            assert action in actions
        assert repository.encounter(encounter_id).status == "reviewed"

    # The analytics page counts the review: alice's row, the added code among the missed.
    browser.get(f"{url}/review/analytics")
    wait(browser, lambda d: "1 reviews" in d.find_element(By.ID, "an-summary").text)
    assert "alice" in browser.find_element(By.ID, "table-coders").text
    assert ADDED in browser.find_element(By.ID, "table-missed").text
    assert css(browser, "#chart-by-rank svg rect.bar")
    # A window before the review holds none of it.
    day = browser.find_element(By.ID, "a-to")
    browser.execute_script("arguments[0].value = '2020-01-01'", day)
    browser.execute_script(
        "arguments[0].value = '2020-01-01'", browser.find_element(By.ID, "a-from")
    )
    browser.find_element(By.CSS_SELECTOR, "#an-filters button[type=submit]").click()
    wait(browser, lambda d: "0 reviews" in d.find_element(By.ID, "an-summary").text)
    assert "submitted_to=2020-01-01" in browser.current_url


def _decide(browser: WebDriver, code: str, button: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f'#suggestions li.sugg[data-code="{code}"]').click()
    # Selecting redraws the list: the selected item is a new element.
    selected = f'#suggestions li.sugg.selected[data-code="{code}"]'
    wait(browser, lambda d: css(d, selected))[0].find_element(
        By.CSS_SELECTOR, f"button.{button}"
    ).click()


def _screenshot(browser: WebDriver, folder: Path) -> None:
    """The encounter view at 1280x800, ready to submit, for a person to look at."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        path = folder / "review-real-1280x800.png"
        assert browser.save_screenshot(str(path))
        SCREENS_COPY.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENS_COPY / path.name)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
