"""Small helpers the browser tests share."""

from collections.abc import Callable
from typing import TypeVar

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 10
T = TypeVar("T")


def wait(browser: WebDriver, condition: Callable[[WebDriver], T], timeout: float = WAIT) -> T:
    """Poll until `condition` is truthy and return its value."""
    return WebDriverWait(browser, timeout).until(condition)


def css(browser: WebDriver | WebElement, selector: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, selector)
