"""The explorer end to end in headless Chromium (Debian's chromium and chromium-driver, which `make test` installs):
open the page, move a slider and see the picture change, upload an image and see its reconstruction, click the
latent map, interpolate, and save a screenshot (``VAEKIT_UPDATE_DOCS=1`` also writes docs/explorer.png)."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import uvicorn
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from test_cli import ROOT

from vaekit import VAE, DataConfig, fit, load_data
from vaekit.explorer import create_app

BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server():
    """The explorer of a small 2-D VAE trained on real MNIST, served by uvicorn on a free port of 127.0.0.1."""
    data = load_data(DataConfig(name="binarized-mnist", limit=5000, validation=500))
    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[128])
    fit(model, data, epochs=5, progress=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(create_app(model, data.test, "binarized-mnist"), log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", data
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not (Path(BROWSER).exists() and Path(DRIVER).exists()):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: `make test` installs them as root "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,2300"):
        options.add_argument(argument)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _src(driver: webdriver.Chrome, css: str) -> str | None:
    """The src of the first image matching ``css``, read in one step (the page replaces its images as it updates,
    so an element found first and read later can be gone)."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.src : null;", css)


def test_the_page_in_a_real_browser(server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, data = server
    wait = WebDriverWait(browser, 60)
    browser.get(url)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples img")) == 16)
    wait.until(lambda d: _src(d, "#decoded img") is not None)
    assert "latent size 2" in browser.find_element(By.ID, "model-info").text

    before = _src(browser, "#decoded img")  # the decoder's output at z = (0, 0)
    browser.find_element(By.ID, "z0").send_keys(Keys.END)  # slider z1 to its end, +3
    wait.until(lambda d: _src(d, "#decoded img") not in (None, before))
    assert browser.find_element(By.ID, "z0").get_attribute("value") == "3"

    picture = tmp_path / "digit.png"
    Image.fromarray((data.test.x[0, 0].numpy() * 255).astype(np.uint8)).save(picture)
    browser.find_element(By.ID, "upload").send_keys(str(picture))
    wait.until(lambda d: _src(d, "#reconstruction img") is not None)
    facts = browser.find_element(By.ID, "facts").text
    assert "log p(x)" in facts and "compressed:" in facts, facts
    assert browser.find_element(By.ID, "compressed-link").get_attribute("download") == "input.vkz"

    canvas = browser.find_element(By.ID, "map")
    ActionChains(browser).move_to_element_with_offset(canvas, 60, -40).click().perform()
    wait.until(lambda d: _src(d, "#map-decoded img") is not None)
    browser.find_element(By.ID, "interpolate").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#interpolation img")) == 8)
    assert browser.find_element(By.ID, "status").text == ""  # no error anywhere

    shot = tmp_path / "explorer.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    if os.environ.get("VAEKIT_UPDATE_DOCS"):
        shutil.copy(shot, ROOT / "docs" / "explorer.png")
