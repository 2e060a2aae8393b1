"""The grader's command line on real and broken submissions (`python -m autograder grade`)."""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import course, notebooks, sample_classes

A = "01_one_hot"


def run_cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=course.ROOT,
                          capture_output=True, text=True, timeout=timeout)


def read_csv(path):
    with open(path, newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def notebooks_01():
    source = notebooks.read(course.source_notebook(A))
    rel = sample_classes.release_nb(A)
    return source, rel, notebooks.student_submission(source, rel)


def put(folder, student, nb, name=f"{A}.ipynb"):
    path = folder / student / A / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def broken_class(tmp_path_factory, notebooks_01):
    """A class of broken and awkward submissions, graded once through the real command line."""
    source, rel, solved = notebooks_01
    root = tmp_path_factory.mktemp("broken")
    cls = root / "class"
    put(cls, "good", solved)
    put(cls, "blank", rel)   # handed in untouched
    text = nbformat.writes(solved)
    put(cls, "corrupt", text[: len(text) // 3])
    put(cls, "empty", "")
    (cls / "missing" / A).mkdir(parents=True)
    (cls / "missing" / A / "notes.txt").write_text("I could not do it")
    put(cls, "renamed", solved, name="my_work.ipynb")
    put(cls, "oldformat", nbformat.writes(nbformat.convert(notebooks.copy_of(solved), 3), version=3))
    deleted = notebooks.copy_of(solved)
    deleted.cells = [c for c in deleted.cells if notebooks.grade_id(c) != "test_encode"]
    put(cls, "deleted_test", deleted)
    edited = notebooks.copy_of(solved)
    for c in edited.cells:
        if notebooks.grade_id(c) == "test_decode":
            c.source = "pass  # tests removed by the student"
    put(cls, "edited_test", edited)
    loop = notebooks.student_submission(source, rel, mutate=[(
        "fc_param_count", "return C * V * H + H", "while True:\n        pass")])
    put(cls, "endless_loop", loop)
    put(cls, "no_nbgrader_cells", nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))
    (cls / "bad name!" / A).mkdir(parents=True)
    proc = run_cli("grade", cls, "--out", root / "out", "--timeout", 10, "--quiet")
    return proc, root / "out"


@pytest.mark.slow
def test_broken_submissions_are_reported_and_the_rest_graded(broken_class):
    proc, out = broken_class
    rows = read_csv(out / "grades.csv")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = {s: r["status"] for s, r in rows.items()}
    assert status == {
        "good": "graded", "blank": "graded", "corrupt": "failed", "empty": "failed", "missing": "missing",
        "renamed": "graded", "oldformat": "graded", "deleted_test": "graded",
        "edited_test": "graded", "endless_loop": "graded", "no_nbgrader_cells": "failed",
    }
    full = rows["good"]["auto_max_score"]
    for s in ("good", "renamed", "oldformat", "deleted_test", "edited_test"):
        assert rows[s]["auto_score"] == full, (s, rows[s])
    assert float(rows["endless_loop"]["auto_score"]) < float(full)


@pytest.mark.slow
def test_a_blank_written_answer_is_not_left_to_do(broken_class):
    """nbgrader scores an untouched written answer 0 itself, and formgrader does not list it for
    grading by hand: the terminal's table agrees, where a written answer is "to do" only when a
    grader has something to read."""
    proc, out = broken_class
    row = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "(to do)" in row["good"] and "(to do)" not in row["blank"], proc.stdout
    assert read_csv(out / "grades.csv")["blank"]["score"] == "0"


@pytest.mark.slow
def test_problems_are_explained_in_words(broken_class):
    proc, out = broken_class
    rows = read_csv(out / "grades.csv")
    assert "not valid JSON" in rows["corrupt"]["problems"]
    assert "empty" in rows["empty"]["problems"]
    assert "no notebook" in rows["missing"]["problems"] and "notes.txt" in rows["missing"]["problems"]
    assert "named my_work.ipynb" in rows["renamed"]["problems"]
    assert "old nbformat 3" in rows["oldformat"]["problems"]
    deleted = rows["deleted_test"]["problems"]
    assert "put back" in deleted and "test_encode" in deleted
    assert "edited" in rows["edited_test"]["problems"] and "test_decode" in rows["edited_test"]["problems"]
    assert "10 s limit" in rows["endless_loop"]["problems"]
    assert "graded cells" in rows["no_nbgrader_cells"]["problems"]
    assert "bad name!" in proc.stderr  # a folder that is not a student id is named, not ignored
    for s in ("corrupt", "empty", "missing", "no_nbgrader_cells"):
        assert s in proc.stderr  # the exit message lists what could not be graded
    report = (out / "report.txt").read_text()
    assert "endless_loop / 01_one_hot: graded" in report


@pytest.mark.slow
def test_feedback_pages_show_messages_but_not_hidden_tests(broken_class):
    _, out = broken_class
    page = (out / "feedback" / "endless_loop" / A / f"{A}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in page and "seed_all(None)" not in page
    assert "hidden tests run here" in page
    assert "CellTimeoutError" in page or "NameError" in page
    # the instructor's autograded copy keeps everything, for formgrader
    graded = (out / "autograded" / "endless_loop" / A / f"{A}.ipynb").read_text()
    assert "seed_all(None)" in graded


@pytest.mark.slow
def test_zip_from_an_lms_with_wrapper_folders(tmp_path, notebooks_01):
    _, _, solved = notebooks_01
    staging = tmp_path / "staging"
    put(staging / "export" / "submitted", "zoe", solved)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in staging.rglob("*"):
            zf.write(p, p.relative_to(staging))
    proc = run_cli("grade", archive, "--out", tmp_path / "out", "--assignment", A, "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = read_csv(tmp_path / "out" / "grades.csv")["zoe"]
    assert row["status"] == "graded" and row["auto_score"] == row["auto_max_score"]
    assert (tmp_path / "out" / "feedback" / "zoe" / A / f"{A}.html").exists()


def test_unreadable_input_exits_2(tmp_path):
    proc = run_cli("grade", tmp_path / "nope", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "neither a folder nor a .zip" in proc.stderr
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_text("not a zip")
    proc = run_cli("grade", bad_zip, "--out", tmp_path / "out")
    assert proc.returncode == 2 and "not a readable zip" in proc.stderr
    proc = run_cli("grade", tmp_path, "--out", tmp_path / "out", "--assignment", "99_nothing")
    assert proc.returncode == 2 and "unknown assignment" in proc.stderr
    assert not (tmp_path / "out").exists(), "a run that could not start must leave no output folder"


@pytest.mark.parametrize("flag,value,says", [
    ("--memory", 100, "too low"), ("--timeout", 0, "at least 1"), ("--workers", -2, "at least 1"),
    ("--max-output", -1, "0 (none) or positive")])
def test_impossible_limits_are_refused_before_grading(tmp_path, flag, value, says):
    proc = run_cli("grade", tmp_path, "--out", tmp_path / "out", flag, value)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("url,says", [
    ("grades.db", "not a database URL"),
    ("mysql://teacher@localhost/course", "driver 'MySQLdb' is not installed"),
    ("sqlite:////no/such/folder/gradebook.db", "cannot open the gradebook"),
    ("postgresql://teacher:s3cret@/course?host=/no/such/socket", "cannot open the gradebook")])
def test_a_gradebook_that_cannot_be_opened_stops_the_run_before_grading(tmp_path, url, says):
    put(tmp_path / "class", "s1", "{}")
    proc = run_cli("grade", tmp_path / "class", "--out", tmp_path / "out", "--db", url)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert "s3cret" not in proc.stderr, "the password must not be printed"
    assert not (tmp_path / "out").exists(), "a run that could not start must leave no output folder"


@pytest.mark.slow
def test_memory_limit_counts_memory_not_the_libraries_address_space(tmp_path, notebooks_01):
    """A kernel that imported PyTorch maps ~1.5 GB of address space (shared libraries, one malloc
    arena reserved per thread) but holds ~400 MB. An address-space limit (RLIMIT_AS) near that
    figure killed correct notebooks at random; the limit must count allocated memory only, so a
    correct notebook grades in full under a limit well below 1.5 GB, and a memory bomb is still
    stopped (tests/test_integrity.py)."""
    _, _, solved = notebooks_01
    put(tmp_path / "class", "s1", solved)
    proc = run_cli("grade", tmp_path / "class", "--out", tmp_path / "out", "--memory", 768,
                   "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = read_csv(tmp_path / "out" / "grades.csv")["s1"]
    assert row["status"] == "graded" and row["auto_score"] == row["auto_max_score"], row


@pytest.mark.slow
def test_regrading_is_idempotent_and_keeps_grades(tmp_path, notebooks_01):
    _, _, solved = notebooks_01
    cls, out = tmp_path / "class", tmp_path / "out"
    path = put(cls, "ann", solved)
    assert run_cli("grade", cls, "--out", out, "--quiet").returncode == 0
    first = read_csv(out / "grades.csv")["ann"]

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:  # an instructor grades by hand
        grade = gb.find_grade("written_one_hot_limits", A, A, "ann")
        grade.manual_score = 2
        gb.db.commit()
    assert run_cli("grade", cls, "--out", out, "--quiet").returncode == 0
    second = read_csv(out / "grades.csv")["ann"]
    assert second["auto_score"] == first["auto_score"]
    assert float(second["score"]) == float(first["score"]) + 2  # the manual grade survived

    path.write_text("{ damaged")  # a re-submission that cannot be graded
    proc = run_cli("grade", cls, "--out", out, "--quiet")
    assert proc.returncode == 1
    third = read_csv(out / "grades.csv")["ann"]
    assert third["status"] == "failed" and third["score"] == second["score"]
    assert "kept" in third["problems"]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "ann").score == float(second["score"])


@pytest.mark.parametrize("command", ["grade", "feedback", "demo", "check", "release", "execute", "benchmark"])
def test_every_command_has_help_with_an_example(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0 and "example" in proc.stdout


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    # CI has just run the demo as its main job (.ci/run) and says where its output and printout
    # are: those are checked instead of grading the same class a second time
    done = os.environ.get("AUTOGRADER_DEMO_DONE")
    if done and (Path(done) / "grades.csv").exists() and (Path(done) / "stdout.txt").exists():
        out, stdout = Path(done), (Path(done) / "stdout.txt").read_text()
    else:
        proc = run_cli("demo", "--out", tmp_path / "demo", "--quiet")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out, stdout = tmp_path / "demo", proc.stdout
    assert "graded as expected" in stdout
    rows = read_csv(out / "grades.csv")
    assert rows["alice"]["auto_score"] == rows["alice"]["auto_max_score"]
    assert rows["bob"]["auto_score"] == "0" and rows["dave"]["status"] == "failed"
    assert (out / "feedback" / "alice" / A / f"{A}.html").exists()


@pytest.mark.slow
def test_rerun_resumes_and_force_regrades(tmp_path, notebooks_01):
    _, _, solved = notebooks_01
    cls, out = tmp_path / "class", tmp_path / "out"
    for s in ("a1", "a2"):
        put(cls, s, solved)
    assert run_cli("grade", cls, "--out", out, "--quiet").returncode == 0
    shutil.rmtree(out / "autograded" / "a1")
    assert run_cli("grade", cls, "--out", out, "--quiet").returncode == 0  # nothing changed
    assert not (out / "autograded" / "a1").exists(), "an unchanged submission was graded again"
    put(cls, "a2", notebooks.copy_of(solved))  # same content: still skipped
    assert run_cli("grade", cls, "--out", out, "--quiet", "--force").returncode == 0
    assert (out / "autograded" / "a1").exists(), "--force did not regrade"
    rows = read_csv(out / "grades.csv")
    assert rows["a1"]["auto_score"] == rows["a1"]["auto_max_score"] == rows["a2"]["auto_score"]


@pytest.mark.slow
def test_shards_share_one_gradebook(tmp_path, notebooks_01):
    from autograder.grading import in_shard

    _, _, solved = notebooks_01
    cls = tmp_path / "class"
    students = ["s1", "s2", "s3", "s4"]
    for s in students:
        put(cls, s, solved)
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    for k in (1, 2):
        proc = run_cli("grade", cls, "--out", tmp_path / f"out{k}", "--db", db, "--shard", f"{k}/2",
                       "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert set(read_csv(tmp_path / f"out{k}" / "grades.csv")) == {
            s for s in students if in_shard(s, k, 2)}
    with Gradebook(db) as gb:
        assert sorted(s.student.id for s in gb.find_assignment(A).submissions) == students
    assert run_cli("grade", cls, "--out", tmp_path / "x", "--shard", "3/2").returncode == 2


def _printed(stdout, label):
    """The JSON a test script printed after ``label`` on a line of its own making."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(label + " ")), None)
    assert line is not None, f"the script printed no '{label}' line:\n{stdout[-2000:]}"
    return json.loads(line[len(label) + 1:])


@pytest.mark.slow
def test_grading_from_a_plain_script(tmp_path, notebooks_01):
    """The command line forks workers from a fork server; a plain script that calls the library
    (and that multiprocessing would run again in each worker) gets a fresh interpreter per job."""
    _, _, solved = notebooks_01
    put(tmp_path / "class", "s1", solved)
    script = tmp_path / "grade_my_class.py"  # no `if __name__ == "__main__"` guard, on purpose
    script.write_text(
        "import json\n"
        "from autograder import grading\n"
        f"outcomes, _ = grading.grade({str(tmp_path / 'class')!r}, {str(tmp_path / 'out')!r}, "
        "progress=False)\n"
        "print('scores', json.dumps([(o.status, o.auto_score, o.auto_max_score) for o in outcomes]))\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status, score, max_score = _printed(proc.stdout, "scores")[0]
    assert status == "graded", f"the plain script's submission was {status}, expected graded"
    assert score == max_score > 0, f"the plain script's solution scored {score} of {max_score}"


@pytest.mark.slow
def test_a_gradebook_lost_mid_run_fails_only_what_it_could_not_record(tmp_path, notebooks_01):
    """The database goes away while one submission's grades are written: that submission is
    reported (not a traceback that loses the run), the others are graded, and the next run
    grades only what is missing."""
    _, _, solved = notebooks_01
    for student in ("ann", "cat"):
        put(tmp_path / "class", student, solved)
    script = tmp_path / "grade_with_a_flaky_database.py"
    script.write_text(
        "import json, sys\n"
        "from sqlalchemy.exc import OperationalError\n"
        "from autograder import gradebook, grading\n"
        "real_merge = gradebook._merge\n"
        "def merge(db_url, scratch, student, assignment):\n"
        "    if student == 'cat' and sys.argv[1] == 'flaky':\n"
        "        raise OperationalError('INSERT', {}, Exception('server closed the connection'))\n"
        "    return real_merge(db_url, scratch, student, assignment)\n"
        "gradebook._merge = merge\n"
        f"outcomes, _ = grading.grade({str(tmp_path / 'class')!r}, {str(tmp_path / 'out')!r}, "
        "progress=False)\n"
        "print('outcomes', json.dumps({o.student_id: (o.status, o.auto_score, o.problems) "
        "for o in outcomes}))\n")

    def run(mode):
        proc = subprocess.run([sys.executable, str(script), mode], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return _printed(proc.stdout, "outcomes")

    first = run("flaky")
    assert first["ann"][0] == "graded" and first["ann"][1] > 0
    assert first["cat"][0] == "failed"
    assert "could not be written to the gradebook (server closed the connection)" in first["cat"][2][0]
    assert "run the same command again" in first["cat"][2][0]
    again = run("healthy")
    assert again["cat"][0] == "graded" and again["cat"][1] == first["ann"][1]
    with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}") as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions(A)) == ["ann", "cat"]


@pytest.mark.slow
def test_feedback_after_grading_by_hand(tmp_path, notebooks_01):
    """Written answers graded in formgrader reach the student's page through `feedback` (and
    through a later regrade), and the page never shows the hidden tests."""
    import re

    _, _, solved = notebooks_01
    put(tmp_path / "class", "ann", solved)
    out = tmp_path / "out"
    assert run_cli("grade", tmp_path / "class", "--out", out, "--quiet").returncode == 0
    assert 'autograded_directory = "public"' in (out / "nbgrader_config.py").read_text(), \
        "formgrader's own Generate Feedback button must read the public copies"
    auto = float(read_csv(out / "grades.csv")["ann"]["auto_score"])
    page = out / "feedback" / "ann" / A / f"{A}.html"
    # before anyone has read it, the written answer is "to be graded by hand", not "0.0 / 3.0"
    before = page.read_text()
    assert "to be graded by hand, 3.0 points" in before and "3.0 of them still to be graded by hand" in before
    # formgrader (which reads public/) shows the model answer and rubric right after the answer ...
    public = nbformat.read(str(out / "public" / "ann" / A / f"{A}.ipynb"), as_version=4)
    k = next(i for i, c in enumerate(public.cells) if c.get("metadata", {}).get("autograder_for_graders"))
    assert public.cells[k - 1].metadata["nbgrader"]["grade_id"] == "written_one_hot_limits"
    assert "Rubric" in public.cells[k].source and "Model answer" in public.cells[k].source
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        sub = gb.find_submission(A, "ann")
        nb = sub.notebooks[0]
        written = next(g for g in nb.grades if g.cell_type != "code")
        written.manual_score = 1.5
        gb.find_comment(written.name, nb.name, A, "ann").manual_comment = "Good point about memory."
        gb.db.commit()

    def shows_manual_grading():
        html = page.read_text()
        assert "seed_all(None)" not in html and "BEGIN HIDDEN TESTS" not in html
        score = float(re.search(r"Score: ([0-9.]+) /", html).group(1))
        # ... and no feedback page shows them, however it is made
        # (this student's answer is the model answer itself, so "Rubric" may appear in it)
        assert "For the grader" not in html, "the graders' cell reached a student"
        graded = "to be graded by hand, " not in html
        return "Good point about memory." in html and score == auto + 1.5 and graded

    assert not shows_manual_grading()
    before_csv = read_csv(out / "grades.csv")["ann"]
    proc = run_cli("feedback", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shows_manual_grading()
    # grades.csv follows the gradebook too: the manual score is in the total, nothing else moved
    after_csv = read_csv(out / "grades.csv")["ann"]
    assert float(after_csv["score"]) == auto + 1.5 and "1 row(s) changed" in proc.stdout
    assert {k: v for k, v in after_csv.items() if k != "score"} == \
        {k: v for k, v in before_csv.items() if k != "score"}

    page.unlink()  # a regrade remakes the page from the real gradebook, manual grades included
    assert run_cli("grade", tmp_path / "class", "--out", out, "--force", "--quiet").returncode == 0
    assert shows_manual_grading()
    assert float(read_csv(out / "grades.csv")["ann"]["score"]) == auto + 1.5

    proc = run_cli("feedback", tmp_path / "class")
    assert proc.returncode == 2 and "not an output folder" in proc.stderr
