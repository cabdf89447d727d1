"""The review pages in a real browser: uvicorn serves the pages and a fake review API on a
loopback port; Debian's headless chromium drives them through Debian's chromedriver."""

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from app.web.pages import page_router
from tests.e2e.fake_review_api import FakeReviewApi
from tests.servers import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Screenshots are also copied here for a person to look at (the system's temp folder).
SCREENS_COPY = Path(tempfile.gettempdir()) / "medcode-screens"
BROWSER_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]


@dataclass
class ReviewSite:
    url: str
    api: FakeReviewApi


def review_app(api: FakeReviewApi) -> FastAPI:
    app = FastAPI()
    app.include_router(page_router())
    app.include_router(api.router())

    @app.middleware("http")
    async def viewer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # What the session layer will do: name the coder and hand the page its token.
        request.state.user = api.user
        request.state.csrf_token = "test-csrf-token"
        return await call_next(request)

    return app


@pytest.fixture(scope="session")
def review_site() -> Iterator[ReviewSite]:
    api = FakeReviewApi()
    with serve_in_thread(review_app(api), lifespan="off") as url:
        yield ReviewSite(url=url, api=api)


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "Debian chromium is not installed (/usr/bin/chromium, /usr/bin/chromedriver): "
            "`make install` as root installs it, or apt-get install chromium chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="medcode-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*BROWSER_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # Both paths given: Selenium Manager has nothing to look up, and downloads nothing.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site(review_site: ReviewSite) -> Iterator[ReviewSite]:
    """The shared server with the fake API's data and records fresh for each test."""
    review_site.api.reset()
    yield review_site


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screens")
