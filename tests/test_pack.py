"""The student pack (``python -m autograder pack``): what a graded class gets, and nothing more.

(a) The graded functions are derived from the solution sources (the top-level definitions of every
    cell with a solution region, read with ``ast``); no Python file of the pack defines one of them,
    at any depth, and the pack holds no solutions, mistake catalogue, autograder package or nbgrader
    solution / hidden-test marker.
(b) The pack installs with pip into a fresh virtual environment in which the course checkout is not
    importable, and each release notebook's visible tests pass with the solution code pasted in and
    fail with the stub's ``NotImplementedError`` (never an ``ImportError``) when left untouched.
"""

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import course, pack

SOLUTION = re.compile(r"### BEGIN SOLUTION\n.*?### END SOLUTION", re.S)


def graded_from_sources():
    """{name: assignment}, derived here independently of autograder.pack."""
    names = {}
    for path in sorted(course.SOURCE_DIR.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "code" and SOLUTION.search(text):
                for node in ast.parse(text).body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        names[node.name] = path.stem
    return names


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "rnn-course"
    pack.build(out)
    return out


def test_graded_functions_are_derived_from_the_sources():
    graded = graded_from_sources()
    assert graded == pack.graded_functions()
    # the exercises of notebooks 01-04 that utils/ used to solve are among them
    for name in ("encode", "decode", "one_hot", "rnn_step_forward", "rnn_forward", "output_layer", "softmax",
                 "rnn_step_backward", "rnn_backward", "rnn_backward_truncated", "softmax_cross_entropy",
                 "step_jacobian", "jacobian_norms", "eta", "clip_by_global_norm"):
        assert name in graded, name


def test_the_pack_holds_what_students_get(built):
    assert sorted(p.name for p in (built / "notebooks").iterdir()) == course.assignments()
    for name in course.assignments():
        assert (built / "notebooks" / name / f"{name}.ipynb").read_bytes() == \
            course.release_notebook(name).read_bytes()
    assert (built / "utils" / "__init__.py").exists()
    assert sorted(p.name for p in (built / "utils" / "fixtures").glob("*.npz"))
    requirements = (built / "requirements.txt").read_text()
    for package in ("numpy", "matplotlib", "jupyterlab", "nbgrader"):
        assert package in requirements
    assert re.search(r"^torch==\d", requirements, re.M) and re.search(r"^\.$", requirements, re.M)
    assert 'packages = ["utils"]' in (built / "pyproject.toml").read_text()
    assert "pip install -r requirements.txt" in (built / "README.md").read_text()
    # every notebook links to the glossary, and the link resolves inside the pack
    for name in course.assignments():
        nb = json.loads((built / "notebooks" / name / f"{name}.ipynb").read_text())
        assert "(../../GLOSSARY.md)" in "".join(nb["cells"][0]["source"]), name
    assert (built / "GLOSSARY.md").read_text(encoding="utf-8").startswith("# 术语表")  # notebooks/NN/../..


def test_the_pack_defines_no_graded_function_and_ships_nothing_forbidden(built):
    graded = graded_from_sources()
    python_files = sorted(built.rglob("*.py"))
    assert python_files
    for path in python_files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & set(graded), f"{path.relative_to(built)} defines {sorted(defined & set(graded))}"
    for path in built.rglob("*"):
        rel = path.relative_to(built)
        assert not {"solutions", "autograder", "mistakes.toml"} & set(rel.parts), rel
        if path.is_file() and path.suffix != ".npz":
            text = path.read_text(encoding="utf-8", errors="replace")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                assert marker not in text, (rel, marker)
    assert pack.problems(built) == []


def test_pack_refuses_a_planted_solution(built, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    (copy / "utils" / "sneaky.py").write_text("def rnn_backward(dh, cache):\n    return None\n")
    (copy / "solutions").mkdir()
    found = "\n".join(pack.problems(copy))
    assert "utils/sneaky.py: defines 'rnn_backward'" in found and "solutions" in found
    with pytest.raises(ValueError, match="inside the course"):
        pack.build(course.ROOT / "pack-here")


# ----------------------------------------------------------------------------------------------
# (b) installed in a fresh virtual environment
# ----------------------------------------------------------------------------------------------
RUNNER = textwrap.dedent('''
    """Run a notebook's code cells in order; report how each test cell ended (JSON on stdout)."""
    import contextlib, io, json, sys, traceback
    import utils
    nb = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    results = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell["metadata"].get("nbgrader", {})
        is_test = meta.get("grade") and not meta.get("solution")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile("".join(cell["source"]), meta.get("grade_id", "cell"), "exec"), namespace)
            error = None
        except BaseException as err:  # noqa: BLE001 - a notebook cell may raise anything
            error = [type(err).__name__, str(err)[:300]]
        if is_test:
            results.append([meta["grade_id"], error])
    print(json.dumps({"utils": utils.__file__, "tests": results}))
''')


def _with_solutions(assignment, target):
    """The release notebook with each solution cell replaced by the source's solution cell."""
    release = json.loads(course.release_notebook(assignment).read_text(encoding="utf-8"))
    source = json.loads(course.source_notebook(assignment).read_text(encoding="utf-8"))
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
                 if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in release["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution") and grade_id in solutions:
            cell["source"] = solutions[grade_id]
    target.write_text(json.dumps(release), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def student_env(built, tmp_path_factory):
    """A fresh venv with the pack installed by pip; the course's own install is not visible in it."""
    venv = tmp_path_factory.mktemp("student") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # numpy, torch, matplotlib and pip come from this interpreter's site-packages, added as a plain
    # path: its .pth files (among them the course's editable install) are not processed, so
    # `import utils` can only find what pip installs from the pack.
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "course_dependencies.pth").write_text("\n".join(ours) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", str(built)], check=True, cwd=venv.parent)
    return python


def _run(python, notebook, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MPLBACKEND="Agg", NBGRADER_EXECUTION="autograde", PYTHONWARNINGS="ignore",
               OMP_NUM_THREADS="1")
    runner = cwd / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run([str(python), str(runner), str(notebook)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_course_checkout_is_not_importable_in_the_student_env(student_env, tmp_path):
    done = subprocess.run([str(student_env), "-c", "import utils, importlib.util; print(utils.__file__); "
                           "print(importlib.util.find_spec('autograder'))"],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    utils_file, autograder_spec = done.stdout.split()
    assert Path(utils_file).resolve().is_relative_to(student_env.parent.parent.resolve())
    assert not Path(utils_file).resolve().is_relative_to(course.ROOT)
    assert autograder_spec == "None"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", course.assignments())
def test_visible_tests_in_the_student_env(assignment, student_env, built, tmp_path):
    solved = _run(student_env, _with_solutions(assignment, tmp_path / f"{assignment}.ipynb"), tmp_path)
    assert Path(solved["utils"]).resolve().is_relative_to(student_env.parent.parent.resolve())
    assert solved["tests"], "no visible tests"
    failed = [(t, e) for t, e in solved["tests"] if e]
    assert not failed, f"visible tests fail with the solution pasted in: {failed}"

    untouched = _run(student_env, built / "notebooks" / assignment / f"{assignment}.ipynb", tmp_path)
    for test, error in untouched["tests"]:
        assert error, f"{test} passes on the untouched release"
        assert error[0] not in ("ImportError", "ModuleNotFoundError"), (test, error)
        # the stub's error itself, or a check that expected another exception and names it
        assert error[0] == "NotImplementedError" or "NotImplementedError" in error[1], (test, error)
