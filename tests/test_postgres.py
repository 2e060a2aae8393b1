"""A class graded on two "machines" (two shards at once) into one PostgreSQL gradebook.

The README's recipe for a class too large for one machine is `--db postgresql://…` plus `--shard K/N`.
This test runs it for real: a throwaway PostgreSQL server (initdb in a temporary folder, listening
on a Unix socket only), both shards started together, then formgrader's view of the gradebook and a
regrade that must keep a manual score. It is skipped only where PostgreSQL's server programs are not
installed (Debian: `apt-get install postgresql`).
"""

import csv
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import course, notebooks, sample_classes

A = "01_one_hot"
pytestmark = pytest.mark.slow


def read_csv(path):
    with open(path, newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _server_programs():
    found = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if None in found:
        for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
            found = [os.path.join(bindir, "initdb"), os.path.join(bindir, "pg_ctl")]
            if all(map(os.path.exists, found)):
                break
    return found if all(found) and all(map(os.path.exists, found)) else None


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server; yields a function that makes a database and returns its URL."""
    programs = _server_programs()
    if programs is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    initdb, pg_ctl = programs
    as_user = []
    folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        folder.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"

    def run(*cmd):
        proc = subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}"

    run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    run(pg_ctl, "-D", data, "-w", "-l", folder / "server.log", "-o",
        f"-k {folder} -p 5432 -c listen_addresses='' -c fsync=off", "start")
    try:
        import psycopg

        def new_database(name):
            with psycopg.connect(host=str(folder), port=5432, user="postgres", dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return f"postgresql://postgres@/{name}?host={folder}&port=5432"

        yield new_database
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Five students (three solutions, two untouched releases), graded once into SQLite."""
    source = notebooks.read(course.source_notebook(A))
    rel = sample_classes.release_nb(A)
    solved = notebooks.student_submission(source, rel)
    root = tmp_path_factory.mktemp("pgclass")
    kinds = {"ann": solved, "bob": rel, "cat": solved, "dan": solved, "eve": rel}
    for student, nb in kinds.items():
        notebooks.write(nb, root / "class" / student / A / f"{A}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(root / "class"),
                           "--out", str(root / "sqlite"), "--quiet"],
                          cwd=course.ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = {s: float(r["auto_score"]) for s, r in read_csv(root / "sqlite" / "grades.csv").items()}
    assert sorted(scores) == sorted(kinds) and scores["ann"] > 0 == scores["bob"], scores
    return root, scores


_MERGE = """
import sys
from autograder import gradebook
url, scratch, student = sys.argv[1:]
gradebook.create_tables(url)
gradebook.merge(url, scratch, student, "01_one_hot")
"""


def test_merges_racing_into_a_new_postgresql_gradebook(postgres, graded_class):
    """Each shard's first write creates nbgrader's tables, course row and the assignment's cells.
    Started together, all but one lose that race on a duplicate key; without the retry in
    autograder/gradebook.py about a third of these merges failed."""
    root, scores = graded_class
    for attempt in range(3):
        url = postgres(f"race{attempt}")
        procs = [subprocess.Popen([sys.executable, "-c", _MERGE, url, str(root / "sqlite" / "gradebook.db"),
                                   student], cwd=course.ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for student in scores]
        for proc in procs:
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr[-2000:]
        with Gradebook(url) as gb:
            merged = {s.student.id: s.score for s in gb.assignment_submissions(A)}
        assert merged == scores


def _grade(cls, out, db, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), "--db", db,
         "--workers", "1", "--quiet", *extra],
        cwd=course.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc):
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stdout + stderr
    return stdout


def test_two_shards_at_once_share_one_postgresql_gradebook(tmp_path, postgres, graded_class):
    root, scores = graded_class
    url = postgres("course")
    cls = root / "class"
    # two machines, started together, writing into one gradebook
    shards = [_grade(cls, tmp_path / f"out{k}", url, "--shard", f"{k}/2") for k in (1, 2)]
    for proc in shards:
        _finish(proc)
    rows = {**read_csv(tmp_path / "out1" / "grades.csv"), **read_csv(tmp_path / "out2" / "grades.csv")}
    assert sorted(rows) == sorted(scores), "each student is graded by exactly one shard"

    with Gradebook(url) as gb:
        subs = {s.student.id: s for s in gb.assignment_submissions(A)}
        assert {s: float(sub.score) for s, sub in subs.items()} == scores
        assert all(float(rows[s]["auto_score"]) == scores[s] for s in scores)
        full = subs["ann"].max_score  # written answers still to grade by hand count in max_score
        # an instructor grades a written answer in formgrader, which reads this same database
        written = next(g for n in subs["ann"].notebooks for g in n.grades if g.cell_type != "code")
        written.manual_score = by_hand = written.max_score
        gb.db.commit()
    assert f"db_url = {url!r}" in (tmp_path / "out1" / "nbgrader_config.py").read_text(), \
        "formgrader, started in the output folder, must open the PostgreSQL gradebook"

    shard = next(k for k in (1, 2) if "ann" in read_csv(tmp_path / f"out{k}" / "grades.csv"))
    _finish(_grade(cls, tmp_path / f"out{shard}", url, "--shard", f"{shard}/2", "--force"))
    ann = read_csv(tmp_path / f"out{shard}" / "grades.csv")["ann"]
    assert float(ann["score"]) == scores["ann"] + by_hand, f"the manual score was lost: {ann}"
    assert float(ann["max_score"]) == full
