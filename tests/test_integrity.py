"""Hostile and broken submissions (`python -m autograder grade`): each one is caught or reported,
and none of them changes another student's result, the gradebook or the course.

Every cheat below starts from the *unsolved* release of notebook 01, so without the grader's
defences the points it gets would be stolen; with them it gets no points for the tests after the
cheat and a flag that names what was found.
"""

import csv
import os
import subprocess
import sys

import nbformat
import pytest

from autograder import course, integrity, notebooks, sample_classes

A = "01_one_hot"
CHECKS = course.ROOT / "utils" / "checks.py"

CHEATS = {
    "patch_numpy": (
        "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None", "replaces np.allclose"),
    "patch_checks": (
        "import utils\nutils.check_equal = lambda *a, **k: None\n"
        "def check_equal(*args, **kwargs):\n    pass\ncheck_close = check_equal",
        "redefines check_equal"),
    # the same patch, hidden from the scan: the test cells import their checks afresh, so it earns
    # nothing, and exec() is flagged for review
    "patch_checks_hidden": (
        "import utils\nexec(bytes.fromhex('" + b"check_equal = lambda *a, **k: None".hex()
        + "').decode(), globals())", "calls exec()"),
    "liar_object": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "def build_vocab(tokens, min_freq=1, unk='<unk>'):\n    return Anything()",
        "compares equal to anything"),
    "custom_exc": (
        "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)", "set_custom_exc"),
    "showtraceback": (
        "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "import sys\nsys.excepthook = lambda *a: None", "showtraceback"),
    "input_transformer": (
        "def swallow(lines):\n    body = ''.join('    ' + l for l in lines)\n"
        "    return ['try:\\n', body + '\\n', 'except BaseException:\\n', '    pass\\n']\n"
        "get_ipython().input_transformers_post.append(swallow)", "input_transformers_post"),
    "read_solutions": (
        f"text = open({str(course.source_notebook(A))!r}).read()", "refers to 'solutions'"),
    "read_solutions_hidden": (
        "import os\np = os.path.join(" + ", ".join(repr(x) for x in course.ROOT.parts[1:])
        + ", 'sol' + 'utions', '01_one_hot', '01_one_hot.ipynb')\n"
        "try:\n    open('/' + p).read()\nexcept PermissionError:\n    pass",
        "refused at run time: reading"),
    "write_course": (
        f"try:\n    open({str(CHECKS)!r}, 'a').write('# owned')\nexcept PermissionError:\n    pass",
        "refused at run time: writing"),
    "os_exit": ("import os\nos._exit(0)", "os._exit"),
}


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=course.ROOT,
                          capture_output=True, text=True, timeout=1200, env=env)


def _with_cheat(release_nb, code):
    nb = notebooks.copy_of(release_nb)
    for cell in nb.cells:
        if notebooks.grade_id(cell) == "build_vocab":
            cell.source = code + "\n\n" + cell.source
    return nb


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cls = root / "class"
    rel = sample_classes.release_nb(A)
    solved = notebooks.student_submission(notebooks.read(course.source_notebook(A)), rel)

    def put(student, nb):
        notebooks.write(nb, cls / student / A / f"{A}.ipynb")

    put("honest", solved)
    for name, (code, _) in CHEATS.items():
        put(name, _with_cheat(rel, code))
    dup = notebooks.copy_of(solved)  # a solved notebook whose test cell was duplicated and retyped
    test = next(c for c in dup.cells if notebooks.grade_id(c) == "test_encode")
    dup.cells.insert(dup.cells.index(test), notebooks.copy_of(test))
    test.cell_type = "markdown"
    test.pop("outputs", None)
    test.pop("execution_count", None)
    put("duplicated_retyped_test", dup)
    put("memory_bomb", _with_cheat(rel, "hog = [bytearray(10**8) for _ in range(100)]"))
    put("print_flood", _with_cheat(rel, "for _ in range(10**5):\n    print('x' * 1000)"))
    put("asks_input", _with_cheat(rel, "name = input('your name? ')"))
    put("crash", _with_cheat(rel, "import faulthandler\nfaulthandler._sigsegv()"))
    checks_before = CHECKS.read_bytes()
    # PyTorch exports its cache folder once a process has used it, and the grader's kernels inherit
    # the environment: an honest kernel that creates that folder outside its scratch must not be flagged
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(root / "grader-cache" / "torchinductor"))
    proc = run_cli("grade", cls, "--out", root / "out", "--timeout", 20, "--memory", 2048,
                   "--max-output", 200_000, "--quiet", env=env)
    assert CHECKS.read_bytes() == checks_before, "a submission changed the course's code"
    with open(root / "out" / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    return proc, rows, root / "out"


@pytest.mark.slow
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_gets_no_points_and_is_flagged(hostile_class, cheat):
    _, rows, _ = hostile_class
    row = rows[cheat]
    assert row["status"] == "graded", row
    assert float(row["auto_score"]) == 0, f"{cheat} earned {row['auto_score']} points: {row}"
    assert CHEATS[cheat][1] in row["integrity"], row["integrity"]


@pytest.mark.slow
def test_honest_student_is_untouched_and_unflagged(hostile_class):
    _, rows, out = hostile_class
    assert rows["honest"]["auto_score"] == rows["honest"]["auto_max_score"]
    assert rows["honest"]["integrity"] == ""
    page = (out / "feedback" / "honest" / A / f"{A}.html").read_text()
    assert "Integrity review" not in page


@pytest.mark.slow
def test_cell_tampering_is_undone(hostile_class):
    _, rows, _ = hostile_class
    row = rows["duplicated_retyped_test"]
    assert row["status"] == "graded" and row["auto_score"] == row["auto_max_score"], row


@pytest.mark.slow
def test_broken_runs_are_reported_and_isolated(hostile_class):
    proc, rows, out = hostile_class
    assert "out of memory" in rows["memory_bomb"]["problems"]
    assert "printed more than 200000" in rows["print_flood"]["problems"]
    feedback = out / "feedback" / "print_flood" / A / f"{A}.html"
    assert feedback.stat().st_size < 5_000_000
    assert rows["asks_input"]["status"] == "graded"
    assert rows["crash"]["status"] == "failed" and "kernel" in rows["crash"]["problems"]
    # what the judge saw of the crash, and that it was run a second time before being reported
    assert "SIGSEGV" in rows["crash"]["problems"] and "run twice" in rows["crash"]["problems"], rows["crash"]
    assert "crash" in proc.stderr
    assert proc.returncode == 1  # the crash could not be graded; everything else was


@pytest.mark.parametrize("assignment", course.assignments())
def test_the_scan_never_flags_the_course_solutions_or_alternatives(assignment):
    from autograder import catalogue

    source = notebooks.read(course.source_notebook(assignment))
    rel = notebooks.read(course.release_notebook(assignment))
    _, alternatives = catalogue.load(assignment)
    variants = [notebooks.student_submission(source, rel)]
    variants += [notebooks.student_submission(source, rel, replace={a.cell: a.code})
                 for a in alternatives]
    for nb in variants:
        assert integrity.scan(nb, rel) == []


def test_scan_finds_each_kind_of_cheat():
    rel = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np\nfrom utils import check_close, check_equal")])
    for name, (code, _) in CHEATS.items():
        if name in ("patch_checks_hidden", "read_solutions_hidden", "write_course"):
            continue  # written to get past any scan: the run-time probe catches these
        sub = nbformat.v4.new_notebook(cells=[rel.cells[0], nbformat.v4.new_code_cell(code)])
        assert integrity.scan(sub, rel), f"the scan missed {name}"


def _graded_notebook(probe_text):
    """A graded notebook: a student cell, three test cells, and the probe cell with its output."""
    code = nbformat.v4.new_code_cell
    tests = [code("check_equal(1, 1)", metadata={"nbgrader": {"grade": True, "grade_id": f"t{k}",
                                                               "points": 1}}) for k in (1, 2, 3)]
    probe = code(integrity.PROBE_SOURCE)
    if probe_text is not None:
        probe.outputs = [nbformat.v4.new_output("stream", name="stdout", text=probe_text)]
    return nbformat.v4.new_notebook(cells=[code("x = 1"), tests[0], code("y = 2"), tests[1], tests[2], probe])


def test_the_verdict_withholds_the_tests_after_the_first_cheat_and_says_why():
    clean = integrity.PROBE_MARK + '{"tampering": [], "refused": ["starting a process (os.system)"]}\n'
    cheat = integrity.Finding(cell=2, grade_id="", kind="cheat", what="replaces check_equal")
    notes, withheld = integrity.verdict(_graded_notebook(clean), [cheat])
    assert withheld == ["t2", "t3"], "every test after the cheating cell (cell 3), none before"
    assert notes[0] == "cell 3: replaces check_equal [cheat]"
    assert "refused at run time: starting a process (os.system) [review]" in notes
    assert notes[-1] == "points withheld for the tests after cell 3: t2, t3"
    notes, withheld = integrity.verdict(_graded_notebook(clean), [])
    assert withheld == [] and notes == ["refused at run time: starting a process (os.system) [review]"]


def test_tampering_seen_only_at_run_time_withholds_every_test():
    tampered = integrity.PROBE_MARK + '{"tampering": ["replaced numpy.allclose"], "refused": []}\n'
    notes, withheld = integrity.verdict(_graded_notebook(tampered), [])
    assert withheld == ["t1", "t2", "t3"]
    assert "at run time: replaced numpy.allclose [cheat]" in notes


def test_a_probe_that_never_reported_is_sent_for_review_and_costs_nothing():
    notes, withheld = integrity.verdict(_graded_notebook(None), [])
    assert withheld == [] and len(notes) == 1 and "the integrity probe did not report" in notes[0]
