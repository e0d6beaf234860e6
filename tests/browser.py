"""A real headless browser for the HTML report's tests: Debian's chromium driven through its
chromium-driver with selenium.  `browser()` skips the test, saying what to install, when
chromium is not installed; nothing is ever downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

INSTALL = "apt-get install chromium chromium-driver (./run tests does)"


def _find(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@contextmanager
def browser() -> Iterator[webdriver.Chrome]:
    chromium = _find("chromium", "chromium-browser")
    driver = _find("chromedriver")
    if chromium is None or driver is None:
        missing = "chromium" if chromium is None else "chromium-driver (chromedriver)"
        pytest.skip(f"{missing} is not installed: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield chrome
    finally:
        chrome.quit()


# One call for the whole matrix: per cell its kernel (the column's header), program,
# subtest, visible text, background colour and outline (box-shadow).
READ_MATRIX = """
const kernels = Array.from(document.querySelectorAll("#matrix thead th"))
  .slice(1).map(th => th.dataset.kernel);
const out = [];
document.querySelectorAll("#matrix tr.row").forEach(row => {
  const subtest = row.querySelector("th").textContent;
  Array.from(row.querySelectorAll("td")).forEach((td, i) => {
    const style = getComputedStyle(td);
    out.push({kernel: kernels[i], program: row.dataset.program, subtest: subtest,
              text: td.innerText, background: style.backgroundColor,
              outline: style.boxShadow, visible: td.offsetParent !== null});
  });
});
return out;
"""


def read_matrix(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = chrome.execute_script(READ_MATRIX)
    return cells


def open_report(chrome: webdriver.Chrome, path: Path) -> None:
    chrome.get(path.resolve().as_uri())
    assert chrome.find_element(By.ID, "matrix")


def cell(chrome: webdriver.Chrome, kernel: str, program: str, subtest: str) -> Any:
    """The matrix cell of one result (found through the page's own data)."""
    index: int = chrome.execute_script(
        """const data = JSON.parse(document.getElementById("residency-data").textContent);
        return data.results.findIndex(r => r.kernel === arguments[0] &&
            r.program === arguments[1] && r.subtest === arguments[2]);""",
        kernel,
        program,
        subtest,
    )
    assert index >= 0, (kernel, program, subtest)
    element = chrome.find_element(By.CSS_SELECTOR, f'td.cell[data-i="{index}"]')
    # In sight, as for a person about to click it: not under the sticky kernel header.
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    return element


def detail(chrome: webdriver.Chrome) -> dict[str, str]:
    """What the details panel shows, field by field (empty when the field is hidden)."""
    fields = ("title", "status", "reason", "baseline", "diagnostics", "program", "links")
    shown = {}
    for name in fields:
        element = chrome.find_element(By.ID, f"d-{name}")
        shown[name] = element.text if element.is_displayed() else ""
    return shown
