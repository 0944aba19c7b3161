"""A real browser: headless Chromium trusts the lab CA (and nothing is ignored), opens
the Sign In page through a front, signs in, and sees the home page."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import CA_FILE, https_url

PROJECT = Path(__file__).resolve().parents[3]
SCREENSHOTS = PROJECT / "artifacts" / "screenshots"


def trusting_home(tmp_path: Path) -> Path:
    """A HOME whose NSS database trusts the project CA, as a user would import it."""
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-t", "C,,", "-n", "flask-stack CA", "-i", str(CA_FILE)], check=True
    )
    return home


@pytest.fixture
def chromium(tmp_path: Path):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1000,800", f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    env = dict(os.environ, HOME=str(trusting_home(tmp_path)), SE_OFFLINE="true")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver", env=env))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.mark.parametrize("front", ["front1", "front2"])
def test_chromium_signs_in_and_renders_the_home_page(chromium, front: str, demo_password: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chromium.get(https_url(front))
    assert "Sign In" in chromium.page_source
    chromium.save_screenshot(str(SCREENSHOTS / f"{front}-signin.png"))
    chromium.find_element(By.NAME, "username").send_keys("demo")
    chromium.find_element(By.NAME, "password").send_keys(demo_password)
    chromium.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    WebDriverWait(chromium, 15).until(expected_conditions.url_contains("/home"))
    body = chromium.find_element(By.TAG_NAME, "body").text
    chromium.save_screenshot(str(SCREENSHOTS / f"{front}-home.png"))
    assert "demo" in body
    assert any(name in body for name in ("app1", "app2"))
    assert chromium.current_url == https_url(front, "/home")
