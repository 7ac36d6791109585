"""The projector page in a real headless Chromium: every student shows, and a grade changes the page without a reload.

The board is the real `lab exam board --web` (a process of its own) reading an exam state made by the unit
tests' fakes (tests/exam_fakes.py): no cluster is needed. Chromium and its driver are Debian's
(`apt-get install chromium chromium-driver`, which `scripts/setup.sh --host` runs); without them the test
skips, or fails when BREAKFIX_REQUIRE_TESTBED is set (as CI sets it).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from breakfix.exam.session import ExamRunner
from breakfix.state import State
from tests.exam_fakes import EXAM, SPOILERS, TITLES, bob_fixes_it, exam_with_grades, exam_with_tasks
from tests.testbed.fixtures import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
WHAT = "headless chromium"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through chromedriver and selenium."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable(WHAT, "selenium is not installed (pip install -e '.[dev]')")
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        unavailable(WHAT, "chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def exam() -> tuple[State, dict[str, int]]:
    """The exam the board shows, under way (the board refuses to start without one); its store and sessions."""
    store = State()
    return store, exam_with_grades(store)


@pytest.fixture
def web_board(exam: tuple[State, dict[str, int]]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`lab exam board --web --port 0` on the test's own store; its address once it answers."""
    with board_process() as running:
        yield running


@contextlib.contextmanager
def board_process() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`lab exam board --web --port 0` on the test's store, for the newest exam in it; its address and process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "breakfix", "exam", "board", "--web", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),  # BREAKFIX_STATE_DIR: the test's store
    )
    assert proc.stderr is not None
    said: list[str] = []
    url = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline and proc.poll() is None:
            if sel.select(timeout=1):
                line = proc.stderr.readline()
                said.append(line)
                if "the board is on http://127.0.0.1:" in line:
                    url = line.split(" is on ", 1)[1].split()[0]
    try:
        assert url, f"the board did not come up: {''.join(said)}"
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def row_text(driver: Any, student: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, f'tr[data-student="{student}"]').text)


def test_the_board_page_follows_the_grades_without_a_reload(
    exam: tuple[State, dict[str, int]], browser: Any, web_board: tuple[str, subprocess.Popen[str]]
) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store, sessions = exam
    url, proc = web_board
    wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
    browser.get(url)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-student]")) == 3)
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-student]")
    assert [r.get_attribute("data-student") for r in rows] == ["alice", "bob", "carol"]
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#head th")]
    assert heads == ["Student", *TITLES.values(), "Score", "Time left", "Hints"]
    assert "fixed · 100%" in row_text(browser, "alice")
    assert "1/2 checks" in row_text(browser, "bob") and "not started" in row_text(browser, "carol")
    assert browser.find_element(By.ID, "fixed").text == "1/3 fixed"
    assert browser.find_element(By.ID, "conn").text == "live"
    body = browser.find_element(By.TAG_NAME, "body").text
    for spoiler in SPOILERS:
        assert spoiler not in body

    # the class clock ticks in the page by itself
    first = browser.find_element(By.ID, "clock").text
    wait.until(lambda d: d.find_element(By.ID, "clock").text != first)

    # a grade lands in the store: the page changes, and it is still the same page (no reload)
    browser.execute_script("window.sameLoad = 'yes'")
    graded = time.monotonic()
    bob_fixes_it(store, sessions)
    wait.until(lambda d: "fixed" in row_text(d, "bob"))
    followed = time.monotonic() - graded
    print(f"the page showed the grade after {followed:.2f} s")
    assert followed < 5  # the server looks every second
    assert "fixed · 90%" in row_text(browser, "bob")  # a hint costs 10%
    assert browser.find_element(By.ID, "fixed").text == "2/3 fixed"
    assert browser.execute_script("return window.sameLoad") == "yes"

    # the instructor pauses the clock: the banner shows and the clock stands still
    ExamRunner(store).pause(EXAM)
    wait.until(lambda d: d.find_element(By.ID, "banner").is_displayed())
    frozen = browser.find_element(By.ID, "clock").text
    assert "paused" in str(browser.find_element(By.ID, "clock").get_attribute("class"))
    time.sleep(2.2)
    assert browser.find_element(By.ID, "clock").text == frozen
    assert browser.execute_script("return window.sameLoad") == "yes"
    assert proc.poll() is None


def test_the_html_report_reads_in_a_real_browser(
    browser: Any, exam: tuple[State, dict[str, int]], tmp_path: Any
) -> None:
    """`lab exam report --report r.html` writes one page: every student's row shows, student text stays text."""
    from selenium.webdriver.common.by import By

    from breakfix.exam.report import render

    store, _sessions = exam
    board = ExamRunner(store).board(EXAM)
    board.seats[2].student = "<b>carol</b>"
    page = tmp_path / "report.html"
    page.write_text(render(board, page))
    browser.get(page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table:nth-of-type(1) tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == ["alice", "bob", "<b>carol</b>"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.result").text == "fixed"
    assert not browser.find_elements(By.CSS_SELECTOR, "tbody b")  # the name was not read as markup


def test_a_board_of_several_tasks_per_student_shows_task_columns_and_titles(browser: Any) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    exam_with_tasks(State())
    with board_process() as (url, _proc):
        wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
        browser.get(url)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-student]")) == 2)
        heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#head th")]
        assert heads == ["Student", "Task 1", "Task 2", "Task 3", "Score", "Time left", "Hints"]
        alice = row_text(browser, "alice")
        assert all(title in alice for title in TITLES.values()) and "66.7%" in alice
        body = browser.find_element(By.TAG_NAME, "body").text
        for spoiler in SPOILERS:
            assert spoiler not in body
