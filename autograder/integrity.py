"""Integrity checks of a submission: a scan of the code the student wrote, before it runs.

Only cells that differ from the release are scanned (the solution cells and any cell the student
added or edited), so the course's own code is never flagged. Each finding names the cell and what
was found. Findings of kind ``cheat`` withhold the points of every test cell after the offending
cell (the tampering affects everything that runs after it); findings of kind ``review`` are reported
for the instructor to look at and cost nothing by themselves.

The run-time side runs in the student's kernel (:mod:`autograder.kernel`: the guard and the probe,
whose report the worker reads with :func:`probe_report`). :func:`verdict` combines the scan and the
probe into the notes an instructor reads and the test cells whose points are withheld, and
:func:`withhold` sets those to 0 in the submission's gradebook: every rule of integrity is here.
"""

import ast
import json
from dataclasses import dataclass

from . import notebooks
from .kernel import PROBE_MARK  # what the probe prints before its report (standard library only)

PROBE_SOURCE = "__import__('autograder.kernel').kernel.probe()"  # the cell run after every test

#: Modules whose attributes a submission must not replace.
PROTECTED_MODULES = {"np", "numpy", "torch", "utils", "checks", "builtins", "math", "sys", "os",
                     "nn", "F", "plotting", "data", "elman", "gradcheck", "IPython"}
#: Names the tests use that a submission must not redefine at the top level of a cell.
PROTECTED_NAMES = {"np", "numpy", "torch", "utils", "CheckFailure", "seed_all",
                   "numerical_gradient", "rel_error"}
#: Attributes of IPython's shell that decide how errors and cells are handled.
IPYTHON_HOOKS = {"set_custom_exc", "showtraceback", "_showtraceback", "showsyntaxerror",
                 "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                 "register_magic_function", "run_cell", "run_code", "events", "excepthook",
                 "custom_exceptions", "CustomTB"}
SUSPECT_STRINGS = ("solutions", "gradebook", "BEGIN HIDDEN", "autograded", ".ipynb", "source_with")
DYNAMIC = {"exec", "eval", "compile", "__import__"}
INTROSPECTION = {"_getframe", "currentframe", "get_referrers", "get_objects", "f_globals",
                 "f_locals", "f_back", "__code__", "__globals__", "__builtins__", "__dict__",
                 "__subclasses__"}


@dataclass
class Finding:
    cell: int  # position of the cell in the notebook (0-based)
    grade_id: str  # its grade_id, or "" for a cell the student added
    kind: str  # cheat | review
    what: str

    def describe(self):
        where = f"cell {self.cell + 1}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"{where}: {self.what}"


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _protected_names(release_nb):
    """Names the release defines for the tests: imported modules and checks (check_close ...)."""
    names = set()
    for cell in release_nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {n for n in names if n.startswith("check") or n in PROTECTED_NAMES}


def scan_source(source, protected_names=frozenset()):
    """Findings in one cell's code: a list of (kind, what)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []

    def add(kind, what):
        if (kind, what) not in found:
            found.append((kind, what))

    modules = PROTECTED_MODULES | {n for n in protected_names if not n.startswith("check")}
    for node in tree.body:  # top-level (re)definitions of the names the tests use
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        for name in names:
            if name in protected_names:
                add("cheat", f"redefines {name}, which the tests use")
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and _root_name(sub) in modules:
                    add("cheat", f"replaces {_dotted(sub) or sub.attr} (a library or check the "
                                 "tests rely on)")
                elif isinstance(sub, ast.Attribute) and sub.attr in IPYTHON_HOOKS:
                    add("cheat", f"changes {sub.attr}, which decides how errors are reported")
                elif isinstance(sub, ast.Subscript) and _dotted(sub.value) in ("sys.modules",
                                                                                "modules"):
                    add("cheat", "replaces a module in sys.modules")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "__eq__":
            returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
            if returns and all(isinstance(r, ast.Constant) and r.value is True for r in returns):
                add("cheat", "defines an object that compares equal to anything (__eq__ "
                             "always returns True)")
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if last == "setattr" and node.args and _root_name(node.args[0]) in modules:
                add("cheat", f"replaces an attribute of {_root_name(node.args[0])} with setattr")
            if last in IPYTHON_HOOKS or (last == "register" and "events" in name):
                add("cheat", f"calls {name}, which changes how errors or cells are handled")
            if name in ("os._exit", "posix._exit", "os.kill", "os.abort"):
                add("review", f"calls {name}, which ends or signals the process")
            if last in DYNAMIC:
                add("review", f"calls {last}(), which can hide what the code does")
            if name.startswith(("subprocess.", "os.system", "os.popen")):
                add("review", f"calls {name}, which starts another process")
        if isinstance(node, ast.Attribute) and node.attr in IPYTHON_HOOKS - {"events", "run_cell"}:
            add("cheat", f"touches {node.attr}, which decides how errors or cells are handled")
        if isinstance(node, ast.Attribute) and node.attr in INTROSPECTION:
            add("review", f"uses {node.attr}, which can reach the tests' internals")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                if mod.split(".")[0] in ("ctypes", "gc", "inspect", "importlib", "sqlite3",
                                         "subprocess", "nbformat", "nbgrader", "autograder"):
                    add("review", f"imports {mod}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            hit = [s for s in SUSPECT_STRINGS if s in node.value]
            if hit:
                add("cheat" if hit[0] in ("solutions", "gradebook", "BEGIN HIDDEN") else "review",
                    f"refers to {hit[0]!r}, as if reading the course's files")
    return found


def scan(submitted_nb, release_nb):
    """Findings of a submission, as a list of :class:`Finding`, in cell order."""
    release_sources = {c.source.strip() for c in release_nb.cells}
    protected = _protected_names(release_nb)
    findings = []
    for k, cell in enumerate(submitted_nb.cells):
        if cell.cell_type != "code" or notebooks.is_test(cell):
            continue
        if cell.source.strip() in release_sources:
            continue  # the course's own code, unchanged
        for kind, what in scan_source(cell.source, protected):
            findings.append(Finding(k, notebooks.grade_id(cell) or "", kind, what))
    return findings


# --- the verdict: the scan and the probe together --------------------------------------------------

def probe_report(nb):
    """What the probe cell printed, or None when it did not run to the end."""
    for cell in reversed(nb.cells):
        if cell.cell_type == "code" and cell.source.strip() == PROBE_SOURCE:
            for out in cell.get("outputs", []):
                text = out.get("text", "") if out.get("output_type") == "stream" else ""
                for line in text.splitlines():
                    if line.startswith(PROBE_MARK):
                        return json.loads(line[len(PROBE_MARK):])
            return None
    return None


def verdict(nb, findings):
    """``(notes, withheld)``: the findings of the scan (``findings``) and of the probe in the graded
    notebook ``nb``, in words with their kind, and the grade ids of the test cells whose points are
    withheld (every test after the first cheat; from the top when only the probe found tampering)."""
    probe = probe_report(nb)
    notes = [f"{f.describe()} [{f.kind}]" for f in findings]
    if probe is None:
        notes.append("the integrity probe did not report: the notebook interfered with the "
                     "kernel, or the kernel died before the end [review]")
        probe = {"tampering": [], "refused": []}
    notes += [f"at run time: {t} [cheat]" for t in probe["tampering"]]
    notes += [f"refused at run time: {r} [review]" for r in probe["refused"]]
    withheld = []
    cheats = [f.cell for f in findings if f.kind == "cheat"]
    if cheats or probe["tampering"]:
        first = min(cheats) if cheats else 0  # tampering found only at run time: from the top
        withheld = [notebooks.grade_id(c) for k, c in enumerate(nb.cells)
                    if k > first and notebooks.is_test(c)]
        if withheld:
            notes.append("points withheld for the tests after "
                         + (f"cell {first + 1}" if cheats else "the start") + ": "
                         + ", ".join(withheld))
    return notes, withheld


def withhold(gradebook_file, notebook, assignment, student, grade_ids):
    """Set the automatic score of ``grade_ids`` to 0 in the SQLite gradebook ``gradebook_file``."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{gradebook_file}") as gb:
        for gid in grade_ids:
            gb.find_grade(gid, notebook, assignment, student).auto_score = 0
        gb.db.commit()
