"""The judge (autograder/judge.py): test cells are decided in a process the student's code cannot
reach, and the student's kernel runs in a sandbox.

Every cheat below starts from the *unsolved* release of notebook 01 and hides from the grader's
code scan (its code is run through ``exec`` of hex text, which the scan only marks for review), and
undoes or hides what it did before the grader's run-time probe looks. So neither the scan nor the
probe withholds its points: only the judge stands between it and full marks. Each must get zero,
and the honest student graded in the same run must get full marks.
"""

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from autograder import course, judge, judge_fork, notebooks, sample_classes, wire

A = "01_one_hot"


def _hidden(code):
    """``code`` run so that the grader's source scan cannot read it."""
    return f"exec(bytes.fromhex('{code.encode().hex()}').decode(), globals())"


# run before the probe cell, so that the probe sees nothing replaced
RESTORE_BEFORE_PROBE = """
def _restore_before_probe(info, _undo=_undo):
    if 'kernel.probe' in (getattr(info, 'raw_cell', '') or ''):
        _undo()
get_ipython().events.register('pre_run_cell', _restore_before_probe)
"""
GUARD_OFF = "import autograder.kernel as _k\n_k._state['busy'] = True\n"

CHEATS = {
    # replace the checks and NumPy's comparisons by functions that pass, undo it before the probe
    "patch_then_undo": """
import numpy as np, utils, utils.checks
_saved = {}
def _pass(*a, **k):
    return None
for _mod in (utils, utils.checks):
    for _n in ('check_close', 'check_equal', 'check_shape', 'check_no_library', 'check_raises'):
        _saved[(_mod, _n)] = getattr(_mod, _n)
        setattr(_mod, _n, _pass)
_saved[(np, 'allclose')] = np.allclose
np.allclose = lambda *a, **k: True
def _undo():
    for (_mod, _n), _f in _saved.items():
        setattr(_mod, _n, _f)
""" + RESTORE_BEFORE_PROBE,
    # replace the code objects of the checks (their identity stays the same)
    "replace_code": """
import utils.checks
_codes = {}
def _noop(*args, **kwargs):
    return None
for _n in ('check_close', 'check_equal', 'check_shape', 'check_no_library', 'check_raises', '_fail'):
    _f = getattr(utils.checks, _n)
    _codes[_n] = _f.__code__
    _f.__code__ = _noop.__code__
def _undo():
    for _n, _c in _codes.items():
        getattr(utils.checks, _n).__code__ = _c
""" + RESTORE_BEFORE_PROBE,
    # mocks in sys.modules and in the namespace
    "mock_modules": """
import sys, types
from unittest import mock
_real = {k: sys.modules[k] for k in ('utils', 'utils.checks')}
_fake = mock.MagicMock()
sys.modules['utils'] = _fake
sys.modules['utils.checks'] = _fake
def _undo():
    sys.modules.update(_real)
""" + RESTORE_BEFORE_PROBE,
    # IPython's transformers turn every cell that checks anything into nothing
    "transformers": """
import ast
class _Empty(ast.NodeTransformer):
    def visit_Module(self, node):
        if 'check' in ast.dump(node):
            node.body = [ast.Pass()]
        return node
_ip = get_ipython()
_ip.ast_transformers.append(_Empty())
_ip.input_transformers_post.append(lambda lines: ['pass\\n'] if any('check' in l for l in lines) else lines)
def _undo():
    _ip.ast_transformers.clear()
    _ip.input_transformers_post.pop()
""" + RESTORE_BEFORE_PROBE,
    # the kernel answers 'ok' to every cell that checks anything, without running it
    "do_execute": """
_kernel = get_ipython().kernel
_original = _kernel.do_execute
async def _fake(code, silent, *args, **kwargs):
    if 'check' in code and 'kernel.probe' not in code:
        return {'status': 'ok', 'execution_count': _kernel.execution_count, 'payload': [],
                'user_expressions': {}}
    return await _original(code, silent, *args, **kwargs)
_kernel.do_execute = _fake
def _undo():
    pass
""",
    # before each cell, publish an execute_result worth full marks (nbgrader scores a test cell by it)
    "execute_result": """
_ip = get_ipython()
def _forge(info):
    _ip.displayhook(100.0)
_ip.events.register('pre_run_cell', _forge)
def _forge_after(result):
    _ip.displayhook(100.0)
_ip.events.register('post_run_cell', _forge_after)
""",
    # the guard switched off through its own state, then the course's solutions read and run
    "guard_off_solutions": GUARD_OFF + f"""
import json
try:
    _nb = json.load(open({str(course.source_notebook(A))!r}))
    for _c in _nb['cells']:
        if _c['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(_c['source']):
            exec(''.join(_c['source']), globals())
except OSError:
    pass
""",
    # a forged probe report, printed by a probe that was replaced
    "forged_probe": GUARD_OFF + """
import autograder.kernel as _k, utils
_k.probe = lambda: print(_k.PROBE_MARK + '{"tampering": [], "refused": []}')
utils.checks._fail = lambda *a, **k: None
""",
    # a process left behind, writing into every grades.csv it can find, for a minute
    "leftover_process": GUARD_OFF + """
import subprocess, sys
subprocess.Popen([sys.executable, '-c', '''
import glob, os, time
for _ in range(600):
    for p in glob.glob('/tmp/**/grades.csv', recursive=True) + \\
            glob.glob('/work/**/grades.csv', recursive=True):
        try:
            open(p, 'a').write('leftover,01_one_hot,999\\\\n')
        except OSError:
            pass
    time.sleep(0.1)
''', 'autograder-leftover-marker'], start_new_session=True)
""",
    # a shared memory mapping, which RLIMIT_DATA does not count
    "shared_memory": """
import mmap
_m = mmap.mmap(-1, 6 * 1024**3, flags=mmap.MAP_SHARED)
for _i in range(0, len(_m), 4096):
    _m[_i] = 1
""",
    # the guard's output cap switched off, then 20 MB printed
    "output_flood": GUARD_OFF + """
import sys
from ipykernel.iostream import OutStream
for _s in (sys.stdout, sys.stderr):
    vars(_s).pop('write', None)
for _ in range(2000):
    print('x' * 10_000)
""",
    # a cell that pretends to be a test cell of the judge (it cannot know this run's nonce)
    "fake_nonce": "# autograder-judge " + "0" * 32 + "\nimport os\nprint(os.getpid())",
}

# prints everything the student's code can see of the tests that call it
SPY = """
import inspect, sys
def _spy(*args, **kwargs):
    seen = []
    for frame in inspect.stack():
        seen.append(frame.filename)
        seen.extend(frame.code_context or [])
        seen.extend(repr(v)[:200] for v in frame.frame.f_locals.values())
    ip = get_ipython()
    seen.extend(ip.user_ns.get('In', []))
    seen.extend(str(v) for v in ip.user_ns.get('_ih', []))
    try:
        seen.extend(str(row) for row in ip.history_manager.get_range(raw=True))
    except Exception:
        pass
    print('SPY', '\\n'.join(map(str, seen)))
    raise NotImplementedError
"""


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=course.ROOT,
                          capture_output=True, text=True, timeout=1200, env=env)


def _with_cheat(release_nb, code):
    nb = notebooks.copy_of(release_nb)
    first = next(c for c in nb.cells if notebooks.is_solution(c) and c.cell_type == "code")
    first.source = code + "\n\n" + first.source
    return nb


def _spying(release_nb):
    """Every graded function of the release replaced by the spy."""
    nb = notebooks.copy_of(release_nb)
    for cell in nb.cells:
        if notebooks.is_solution(cell) and cell.cell_type == "code":
            names = [line.split("(")[0][4:] for line in cell.source.splitlines() if line.startswith("def ")]
            cell.source += "\n" + SPY + "".join(f"\n{n} = _spy" for n in names)
    return nb


def _hidden_lines(assignment):
    """Lines of the hidden tests that appear nowhere in the release notebook."""
    release_text = "\n".join(c.source for c in sample_classes.release_nb(assignment).cells)
    lines = set()
    for cell in notebooks.read(course.source_notebook(assignment)).cells:
        if notebooks.is_test(cell) and notebooks.BEGIN_HIDDEN in cell.source:
            block = cell.source.split(notebooks.BEGIN_HIDDEN, 1)[1].split(notebooks.END_HIDDEN, 1)[0]
            lines |= {ln.strip() for ln in block.splitlines()
                      if len(ln.strip()) > 25 and ln.strip() not in release_text}
    return lines


SECRET = "planted-secret-4b1d"  # in the grader's environment and credential files, never the student's


def _grading_account(root):
    """A home for the grader with a database password, an ssh key and notes; the variables that
    point at them; and a student's code that prints all it can find of them."""
    home = root / "instructor-home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".pgpass").write_text(f"db.example.org:5432:course:grader:{SECRET}\n")
    (home / ".ssh" / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n")
    (home / "notes.txt").write_text("grades to post on Friday\n")
    env = dict(os.environ, HOME=str(home), PGPASSWORD=SECRET, AWS_SECRET_ACCESS_KEY=SECRET,
               JUPYTER_TOKEN=SECRET, DATABASE_URL=f"postgresql://grader:{SECRET}@db/course")
    loot = f"""
import os
_loot = [f"{{k}}={{v}}" for k, v in os.environ.items()]
for _p in {[str(home / n) for n in (".pgpass", ".ssh/id_ed25519", "notes.txt")]!r}:
    try:
        _loot.append(open(_p).read())
    except Exception as _e:
        _loot.append(repr(_e))
try:
    _loot.append(open(f"/proc/{{os.getppid()}}/environ").read())
except Exception as _e:
    _loot.append(repr(_e))
print("LOOT", _loot)
"""
    return env, loot


@pytest.fixture(scope="module")
def judged_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("judged")
    rel = sample_classes.release_nb(A)
    env, loot = _grading_account(root)
    class_nbs = {"honest": notebooks.student_submission(notebooks.read(course.source_notebook(A)), rel),
                 "spy": _spying(rel), "loot": _with_cheat(rel, loot)}
    class_nbs.update({name: _with_cheat(rel, code if name == "fake_nonce" else _hidden(code))
                      for name, code in CHEATS.items()})
    for student, nb in class_nbs.items():
        sample_classes._put(root / "class", student, A, nb)
    cls = root / "class"
    proc = run_cli("grade", cls, "--out", root / "out", "--timeout", 30, "--memory", 2048,
                   "--max-output", 200_000, "--quiet", env=env)
    time.sleep(2)  # a process left behind would go on writing
    with open(root / "out" / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    return proc, rows, root / "out"


@pytest.mark.slow
@pytest.mark.parametrize("cheat", sorted(CHEATS) + ["spy"])
def test_cheat_gets_no_points(judged_class, cheat):
    _, rows, _ = judged_class
    row = rows[cheat]
    assert float(row["auto_score"] or 0) == 0, f"{cheat} earned {row['auto_score']} points: {row}"


@pytest.mark.slow
def test_honest_student_gets_full_marks_in_the_same_run(judged_class):
    _, rows, _ = judged_class
    row = rows["honest"]
    assert row["status"] == "graded" and row["auto_score"] == row["auto_max_score"], row
    assert row["integrity"] == "", row


@pytest.mark.slow
def test_nothing_outlives_the_submission(judged_class):
    _, rows, out = judged_class
    text = (out / "grades.csv").read_text()
    assert "leftover" not in text.replace("leftover_process", ""), text
    left = subprocess.run(["pgrep", "-f", "autograder-leftover-marker"], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"a process of the submission outlived grading: {left.stdout}"


@pytest.mark.slow
def test_shared_memory_is_limited(judged_class):
    _, rows, _ = judged_class
    if judge.memory_cgroup(1)[0] is None:
        pytest.skip("no memory control group can be made here: " + judge.memory_cgroup(1)[1])
    row = rows["shared_memory"]
    assert row["status"] == "failed" and "kernel" in row["problems"], row
    # the memory group's kill is named as such, and not run a second time
    assert "memory limit" in row["problems"] and "run twice" not in row["problems"], row


@pytest.mark.slow
def test_output_is_capped_by_the_judge_too(judged_class):
    _, rows, out = judged_class
    page = out / "feedback" / "output_flood" / A / f"{A}.html"
    assert page.stat().st_size < 5_000_000
    assert "printed more than 200000" in rows["output_flood"]["problems"], rows["output_flood"]


@pytest.mark.slow
def test_hidden_tests_never_reach_the_student(judged_class):
    _, rows, out = judged_class
    lines = _hidden_lines(A)
    assert lines, "notebook 01 has hidden tests to look for"
    page = (out / "feedback" / "spy" / A / f"{A}.html").read_text()
    assert "SPY" in page, "the spy ran and its output is on its feedback page"
    leaked = [ln for ln in lines if ln in page]
    assert not leaked, f"hidden test lines reached the student: {leaked[:3]}"


@pytest.mark.slow
def test_the_graders_secrets_never_reach_the_student(judged_class):
    """The grader's environment (a database password, cloud keys, a Jupyter token) and its credential
    files (~/.pgpass, ~/.ssh) stay out of the student's kernel, so out of every page made from it."""
    _, rows, out = judged_class
    page = (out / "feedback" / "loot" / A / f"{A}.html").read_text()
    assert "LOOT" in page, "the student's code ran and printed onto its feedback page"
    assert "HOME=" in page and "PATH=" in page, "the kernel still has the environment Python needs"
    leaked = [str(p.relative_to(out)) for p in out.rglob("*")
              if p.is_file() and p.suffix in (".html", ".ipynb", ".csv", ".txt", ".json")
              and SECRET in p.read_text(errors="replace")]
    assert not leaked, f"the grader's secret reached these files of the output folder: {leaked}"
    # what the home holds besides credentials is hidden where the sandbox runs
    if not judge.sandbox_available():
        assert "grades to post" not in page, "the sandbox shows the grading account's home folder"


@pytest.mark.slow
def test_the_report_says_which_protection_was_in_force(judged_class):
    _, rows, out = judged_class
    report = (out / "report.txt").read_text()
    expected = "in a bubblewrap sandbox" if not judge.sandbox_available() else "without the sandbox"
    assert expected in report, report[:2000]


# --- what crosses between the processes (fast) ------------------------------------------------------

def _roundtrip(value):
    refs = []
    item = wire.encode(value, lambda obj: refs.append(obj) or {"ref": len(refs)})
    return wire.decode(wire.loads(wire.dumps(item)), lambda tag, n: ("handle", tag, n))


def test_plain_data_crosses_unchanged():
    rng = np.random.default_rng(3)
    value = {"a": rng.standard_normal((2, 3)).astype(np.float32), "i": np.int64(7), 3: (1, 2.5, None),
             "s": ["x", b"y", float("inf")], "sl": slice(1, None, 2), "b": np.array([True, False])}
    back = _roundtrip(value)
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert back["i"] == 7 and isinstance(back["i"], np.integer)
    assert back[3] == (1, 2.5, None) and back["s"][:2] == ["x", b"y"] and back["s"][2] == float("inf")
    assert back["sl"] == slice(1, None, 2) and back["b"].dtype == bool
    g = _roundtrip(np.random.default_rng(5))
    assert g.integers(10**9) == np.random.default_rng(5).integers(10**9)


def test_what_the_students_code_changed_in_place_is_changed_here_too():
    original = np.arange(24.0).reshape(2, 3, 4)
    wire.copy_back(original, original.reshape(6, 4) + 1)  # h.shape = (T * N, H); h += 1
    assert original.shape == (6, 4) and np.array_equal(original, np.arange(24.0).reshape(6, 4) + 1)
    view = np.zeros((4, 6))[:, :3]   # a view NumPy cannot reshape in place: left as it was
    wire.copy_back(view, np.ones(12))
    assert view.shape == (4, 3) and not view.any()
    items = [1, 2]
    wire.copy_back(items, [3])
    assert items == [3]


def test_objects_that_lie_do_not_cross():
    class Liar:
        def __eq__(self, other):
            return True

    class LyingArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), bool)

    assert _roundtrip(Liar())[0] == "handle"  # a handle, never the object
    lying = np.zeros(3).view(LyingArray)
    back = _roundtrip(lying)
    assert type(back) is np.ndarray and not np.array_equal(back, np.ones(3))
    assert _roundtrip(np.array([object()], dtype=object))[0] == "handle"


@pytest.mark.parametrize("message", [
    {"a": ["|O", [1], ""]},                                  # object dtype
    {"a": ["<f8", [3], "AAAAAAAAAAA="]},                     # bytes do not match the shape
    {"a": ["<f8", [-1], ""]},                                # a negative shape
    {"q": 1},                                               # an unknown tag
    {"ref": "1"},                                           # a malformed handle
    {"g": ["os.system", "{}"]},                             # not a bit generator
])
def test_the_judge_refuses_malformed_data(message):
    with pytest.raises(wire.WireError):
        wire.decode(message, lambda tag, n: None)


def test_only_this_runs_nonce_marks_a_test_cell():
    nonce = judge.new_nonce()
    assert judge.is_marked(judge.MARK + nonce + "\ncheck()", nonce)
    assert not judge.is_marked(judge.MARK + "0" * 32 + "\ncheck()", nonce)
    assert not judge.is_marked("x = 1\n" + judge.MARK + nonce + "\n", nonce)
    assert not judge.is_marked(judge.MARK + nonce + "\ncheck()", "")
    assert judge.unmark(judge.MARK + nonce + "\ncheck()") == "check()"


@pytest.mark.parametrize("marker", ["### BEGIN HIDDEN TESTS", "    # BEGIN HIDDEN TESTS",
                                    "#BEGIN HIDDEN TESTS!"])
def test_feedback_copies_drop_every_hidden_marker_form_nbgrader_honours(marker):
    import nbformat

    from autograder import worker

    source = f"check(1)\n{marker}\nsecret_expected = 42\n{marker.replace('BEGIN', 'END')}\ncheck(2)"
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1,
                                 "locked": True, "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[cell])
    public = worker.public_copy(nb)
    assert "secret_expected" not in public.cells[0].source
    assert public.cells[0].source.startswith("check(1)") and "check(2)" in public.cells[0].source
    # an unclosed region: nothing after the marker may show
    cell.source = f"check(1)\n{marker}\nsecret_expected = 42"
    assert "secret_expected" not in worker.public_copy(nb).cells[0].source


# --- the judge kernel itself, driven by nbclient as nbgrader drives it (a few seconds) ------------

def _run_judged(tmp_path, cells, timeout=20, sandbox="auto", metadata=None):
    """Run ``cells`` through the judge; a cell starting with ``TEST\\n`` is a marked test cell."""

    import nbformat
    from nbclient import NotebookClient

    nonce = judge.new_nonce()
    spec = tmp_path / "jupyter" / "kernels" / "judged"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "autograder.judge", "-f", "{connection_file}"],
        "display_name": "judge", "language": "python", "interrupt_mode": "message",
        "metadata": metadata or {},
        "env": {"AUTOGRADER_JUDGE_NONCE": nonce, "OMP_NUM_THREADS": "1", "AUTOGRADER_SANDBOX": sandbox,
                "AUTOGRADER_STUDENT_ENV": json.dumps({"AUTOGRADER_WRITABLE": str(tmp_path)}),
                "AUTOGRADER_JUDGE_REPORT": str(tmp_path / "judge.json"),
                "PYTHONPATH": str(course.ROOT)}}))
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            judge.MARK + nonce + "\n" + c[5:] if c.startswith("TEST\n") else c) for c in cells])
        NotebookClient(nb, kernel_name="judged", timeout=timeout, allow_errors=True,
                       interrupt_on_timeout=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.pop("JUPYTER_PATH", None)
    return [[(o.get("ename"), o.get("text", "")) for o in c.outputs] for c in nb.cells]


@pytest.mark.slow
def test_a_forked_judge_has_its_kernels_environment_folder_and_threads(tmp_path):
    """The worker's judge is forked from a process that imported NumPy, PyTorch and ipykernel
    earlier (autograder.judge_fork): what the kernel spec gives a new process must reach it, and
    nothing the forking process had open may be used by mistake (here, pytest's own files)."""
    judge_fork.prepare()
    metadata = judge_fork.kernel_spec_metadata()
    assert metadata, "a judge could be prepared on this machine"
    outs = _run_judged(tmp_path, [
        "def double(x):\n    return 2 * x",
        "TEST\nimport os, sys, torch\nprint(os.environ['AUTOGRADER_SANDBOX'], os.getcwd(), "
        "torch.get_num_threads(), double(21), sys.argv[-1])",
    ], sandbox="off", metadata=metadata)
    parent = f"--IPKernelApp.parent_handle={os.getpid()}"  # the judge ends when its starter does
    assert outs[1] == [(None, f"off {tmp_path} 1 42 {parent}\n")], outs
    report = json.loads((tmp_path / "judge.json").read_text())
    assert report["started"] == "forked" and "first_cell" in report["clock"], report
    assert not judge_fork.kernel_spec_metadata(), "one prepared judge serves one kernel"


@pytest.mark.slow
def test_the_judge_calls_the_students_code_and_survives_its_failures(tmp_path):
    outs = _run_judged(tmp_path, [
        "import numpy as np\nnp = None  # the student rebinds np: tests still get NumPy\n"
        "def double(x):\n    x *= 2\n    return x\n"
        "def replace_first(items):\n    items[0] = 'new'\n"
        "def loop():\n    while True:\n        pass\n"
        "def leave():\n    raise SystemExit(3)\n"
        "class Liar:\n    def __eq__(self, other):\n        return True\n"
        "def liar():\n    return Liar()\n"
        "def flatten(h):\n    h.shape = (h.size,)",
        "TEST\nimport numpy as np\na = np.ones(3)\nassert (double(a) == 2).all() and (a == 2).all()\n"
        "print('in place', a)",
        "TEST\nassert liar() != 5, 'a liar crossed'\nitems = ['old', 1]\nreplace_first(items)\n"
        "print('no liar', items)",
        "TEST\nloop()",
        "TEST\nleave()",
        "TEST\nprint('alive', double(np.arange(2)))",
        "TEST\na = np.ones((2, 2))\nflatten(a)\nprint('reshaped', a.shape)",
    ], timeout=5)
    assert outs[1] == [(None, "in place [2. 2. 2.]\n")], outs[1]
    assert outs[2] == [(None, "no liar ['new', 1]\n")], outs[2]  # a list changed in place
    assert outs[3][0][0] is not None  # stopped by the time limit: an error, not points
    assert outs[4][0][0] == "StudentCodeError", outs[4]
    assert outs[5] == [(None, "alive [0 2]\n")], outs[5]
    assert outs[6] == [(None, "reshaped (4,)\n")], outs[6]  # h.shape = ... in place is seen too


@pytest.mark.slow
def test_the_tests_warning_filters_and_numpy_settings_reach_the_students_code(tmp_path):
    # in one process, a test's simplefilter("error") or np.errstate(over="raise") would act on the
    # student's code; across the boundary they must act the same way
    outs = _run_judged(tmp_path, [
        "import numpy as np\ndef naive(x):\n    return np.exp(np.asarray(x)).sum()",
        "TEST\nimport warnings\nwith warnings.catch_warnings():\n    warnings.simplefilter('error')\n"
        "    try:\n        naive([1000.0])\n    except RuntimeWarning as err:\n"
        "        print('raised', type(err).__name__, err)",
        "TEST\nimport warnings\nwith warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n    naive([1000.0])\n"
        "print(len(caught), caught[0].category.__name__)",
        "TEST\nimport numpy as np\nwith np.errstate(over='raise'):\n    try:\n        naive([1000.0])\n"
        "    except FloatingPointError as err:\n        print('floating point', err)",
        "TEST\nprint(naive([1.0, 0.0]) > 0)",
    ], timeout=10)
    assert outs[1] == [(None, "raised RuntimeWarning overflow encountered in exp\n")], outs[1]
    assert outs[2] == [(None, "1 RuntimeWarning\n")], outs[2]
    assert outs[3][0][1].startswith("floating point overflow encountered in exp\n"), outs[3]
    assert "(in your code: naive, line 3" in outs[3][0][1], outs[3]  # where to look
    assert outs[4] == [(None, "True\n")], outs[4]


@pytest.mark.slow
def test_repeated_calls_run_in_one_go_and_keep_the_generator(tmp_path):
    # utils.repeat_calls: n calls of the student's sampler in one operation, the generator advancing
    # from call to call and copied back, the same draws as n single calls
    outs = _run_judged(tmp_path, [
        "def draw(rng, high):\n    return int(rng.integers(0, high))",
        "TEST\nimport numpy as np\nimport utils\nrng = np.random.default_rng(3)\n"
        "draws = utils.repeat_calls(draw, 500, rng, 10)\nmine = np.random.default_rng(3)\n"
        "print(draws == [int(mine.integers(0, 10)) for _ in range(500)], "
        "rng.integers(0, 10**9) == mine.integers(0, 10**9))",
    ], timeout=10)
    assert outs[1] == [(None, "True True\n")], outs[1]


@pytest.mark.slow
def test_a_kernel_silent_for_seconds_while_it_starts_is_not_declared_dead(tmp_path):
    """On a loaded machine a starting kernel can go unscheduled for seconds. jupyter_client's
    ``wait_for_ready`` calls a kernel dead when one heartbeat goes unanswered for a second, which
    failed correct submissions as "the notebook's kernel died" when several gradings ran at once:
    the judge counts a kernel alive while its process runs (a stopped process here, for 3 s), and
    dead as soon as that process ends."""
    import signal
    import threading

    from jupyter_client import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    def link_to(conn, proc):
        client = BlockingKernelClient(connection_file=conn)
        client.load_connection_file()
        client.start_channels(hb=False)
        link = judge.Link.__new__(judge.Link)  # the waiting only: no sandbox, no agent
        link.client, link.proc, link.ready = client, proc, False
        return link

    conn, _ = write_connection_file(str(tmp_path / "kernel.json"))
    proc = subprocess.Popen([sys.executable, "-m", "ipykernel_launcher", "-f", conn],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    link = link_to(conn, proc)
    try:
        link.wait_ready(timeout=60)
        link.ready = False
        proc.send_signal(signal.SIGSTOP)
        threading.Timer(3.0, proc.send_signal, [signal.SIGCONT]).start()
        start = time.monotonic()
        link.wait_ready(timeout=60)
        assert link.ready and time.monotonic() - start >= 2.5
    finally:
        link.client.stop_channels()
        proc.kill()
        proc.wait()

    conn, _ = write_connection_file(str(tmp_path / "nobody.json"))
    ended = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    link = link_to(conn, ended)
    try:
        with pytest.raises(judge.StudentKernelDied, match="exit status 3"):
            link.wait_ready(timeout=60)
    finally:
        link.client.stop_channels()
