"""The course as people meet it, in a real browser: JupyterLab and nbgrader's extensions in Chromium.

A student opens a release notebook in JupyterLab, runs all its cells, and presses nbgrader's
**Validate** on the untouched release (the failures are listed) and on a solved copy (success);
the release, saved by JupyterLab, still equals its generation. An instructor grades a small class,
opens **Formgrader** on the grading output folder and grades a written answer by hand, which reaches
the gradebook and, through ``python -m autograder feedback``, grades.csv.

Driven by Playwright with Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it).
Screenshots go to ``$AUTOGRADER_SCREENSHOTS`` (CI keeps them) or to pytest's temporary folder.
Every process started here (JupyterLab, its kernels, the browser) is stopped at the end. Skipped,
with the reason, only where no Chromium or no Playwright is installed, unless
``AUTOGRADER_REQUIRE_BROWSER=1`` (set by ``.ci/run`` when it could install Chromium): then that is a
failure.
"""

import csv
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from autograder import course, notebooks, release, sample_classes

pytestmark = [pytest.mark.slow, pytest.mark.browser]

A = "01_one_hot"
WRITTEN = "written_one_hot_limits"  # 01's written answer, 3 points, graded by hand
CHROMIUM_ARGS = [  # no background traffic: this machine's closed network refuses it, many at a time
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _missing(why):
    if os.environ.get("AUTOGRADER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{why}, and AUTOGRADER_REQUIRE_BROWSER=1 says this machine must run the browser test")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -r requirements.txt)")
    executable = _chromium()
    if executable is None:
        _missing("no Chromium is installed (Debian: apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(root, home):
    """JupyterLab serving ``root`` on 127.0.0.1 (its own process group, stopped on exit).

    ``home`` holds its settings and workspaces, so nothing of the user's own JupyterLab leaks in.
    Yields ``(base_url, token)``."""
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    log = open(home / "jupyter-lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited ({proc.returncode}): "
                                     f"{(home / 'jupyter-lab.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not answer within 90 s") from None
                time.sleep(0.5)
        yield base, token
    finally:
        _kill_group(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(proc.pid, signal.SIGKILL)  # whatever of its session is left
        proc.wait()
        log.close()


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _open_notebook(page, base, token, name):
    # a workspace of its own, reset: only this notebook open, and it is the current one
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}")
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=name).first.wait_for(timeout=90_000)
    page.locator(".jp-Notebook").filter(visible=True).first.wait_for(timeout=90_000)
    # the kernel is ready when the toolbar's status says so
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").filter(visible=True).first.wait_for(
        timeout=120_000)


def _menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _validate(page, shot):
    """Press nbgrader's Validate; returns the dialog's result element once it has one."""
    toolbar = page.locator(".jp-NotebookPanel-toolbar").filter(visible=True).first
    toolbar.get_by_text("Validate", exact=True).click()
    result = page.locator(".jp-Dialog #validation-message")
    result.wait_for(timeout=240_000)  # nbgrader validate runs the whole notebook
    page.screenshot(path=str(shot), full_page=True)
    return result


def _close_dialog(page):
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)


def test_a_student_runs_and_validates_a_release_in_jupyterlab(browser, shots, tmp_path):
    work, home = tmp_path / "student", tmp_path / "home"
    work.mkdir(), home.mkdir()
    rel_path = course.release_notebook(A)
    shutil.copy(rel_path, work / f"{A}.ipynb")
    solved = notebooks.student_submission(notebooks.read(course.source_notebook(A)),
                                          sample_classes.release_nb(A))
    notebooks.write(solved, work / f"{A}_solved.ipynb")

    with jupyter_lab(work, home) as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            _open_notebook(page, base, token, f"{A}.ipynb")
            # the markdown renders: formulas typeset by JupyterLab's MathJax, Chinese terms as text
            # (wait_for fails the test with its locator when JupyterLab typesets none)
            page.locator(".jp-RenderedMarkdown mjx-container").first.wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "00-student-opens-the-release.png"))

            # Validate before running anything (it saves the notebook first), as one who only looks
            result = _validate(page, shots / "01-student-validate-untouched.png")
            assert "validation-failed" in (result.get_attribute("class") or ""), \
                f"Validate on the untouched release did not fail:\n{result.inner_text()}"
            text = result.inner_text()
            assert "NotImplementedError" in text, f"the failures do not name the stub's error:\n{text}"
            _close_dialog(page)
            # saved by JupyterLab, the release still equals its generation (no diff for git to show)
            saved, committed = notebooks.read(work / f"{A}.ipynb"), notebooks.read(rel_path)
            assert release.comparable(saved) == release.comparable(committed), \
                "the release saved by JupyterLab differs from its generation beyond what JupyterLab rewrites"

            _menu(page, "Run", "Run All Cells")
            # the first exercise's stub raises, and says so under its cell
            error = page.locator(".jp-OutputArea-output", has_text="NotImplementedError").first
            error.wait_for(timeout=180_000)
            error.screenshot(path=str(shots / "02-student-run-all.png"))

            _open_notebook(page, base, token, f"{A}_solved.ipynb")
            result = _validate(page, shots / "03-student-validate-solved.png")
            assert "validation-success" in (result.get_attribute("class") or ""), \
                f"Validate on a solved copy did not pass:\n{result.inner_text()}"
            assert "passes all the tests" in result.inner_text()
            _close_dialog(page)
        finally:
            page.close()


def _grade_class(tmp_path):
    """A class of two graded by the CLI, as an instructor does: alice (solved), bob (untouched)."""
    subs, out = tmp_path / "submitted", tmp_path / "grades"
    source, rel = notebooks.read(course.source_notebook(A)), sample_classes.release_nb(A)
    for student, nb in (("alice", notebooks.student_submission(source, rel)), ("bob", rel)):
        dest = subs / student / A / f"{A}.ipynb"
        dest.parent.mkdir(parents=True)
        notebooks.write(nb, dest)
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
                          "--workers", "2", "--quiet"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"grading the class failed:\n{run.stdout}\n{run.stderr}"
    return out


def _grades(out):
    with open(out / "grades.csv", newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_an_instructor_grades_a_written_answer_in_formgrader(browser, shots, tmp_path):
    from nbgrader.api import Gradebook

    out = _grade_class(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    db = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(db) as gb:
        sub_nb = gb.find_submission_notebook(A, A, "alice")
        submission_id = sub_nb.id
        written = gb.find_grade(WRITTEN, A, A, "alice")
        assert written.needs_manual_grade, "alice's written answer should wait for a grader"
    before = float(_grades(out)["alice"]["score"])

    with jupyter_lab(out, home) as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            # log in with the token as on a remote server: Formgrader's own requests need the cookie
            page.goto(f"{base}/login?next=/formgrader")
            page.locator("#password_input").fill(token)
            page.locator("#login_submit").click()
            page.get_by_text("Manage Assignments").first.wait_for(timeout=60_000)
            page.goto(f"{base}/formgrader/gradebook/{A}/{A}")
            # the manual-grading list of the notebook: two submissions, one still to grade
            rows = page.locator("tbody tr", has=page.locator("a"))  # filled in by the page's script
            rows.nth(1).wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "04-formgrader-submissions.png"), full_page=True)
            assert rows.count() == 2, f"Formgrader lists {rows.count()} submissions of the class of two"

            page.goto(f"{base}/formgrader/submissions/{submission_id}/")
            score = page.locator(f"input.score#{WRITTEN}")
            score.wait_for(timeout=60_000)
            # the model answer and rubric for the grader sit right after the student's answer
            assert page.get_by_text("For the grader").count() > 0, \
                "the grader's note (model answer and rubric) is not shown in Formgrader"
            score.fill("2.5")
            score.press("Tab")  # the score is saved when the field loses focus
            deadline = time.monotonic() + 30
            while True:
                with Gradebook(db) as gb:
                    grade = gb.find_grade(WRITTEN, A, A, "alice")
                    manual = grade.manual_score
                if manual == 2.5:
                    break
                assert time.monotonic() < deadline, \
                    f"the score typed in Formgrader did not reach the gradebook (it holds {manual})"
                time.sleep(0.5)
            score.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "05-formgrader-graded-by-hand.png"))
        finally:
            page.close()

    run = subprocess.run([sys.executable, "-m", "autograder", "feedback", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"`feedback` after grading by hand failed:\n{run.stdout}\n{run.stderr}"
    after = float(_grades(out)["alice"]["score"])
    assert after == pytest.approx(before + 2.5), \
        f"grades.csv: alice had {before} before the 2.5 points given by hand, has {after} after"
