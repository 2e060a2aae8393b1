"""``python -m autograder``: release, grade, demo, check and execute the course's notebooks."""

import argparse
import os
import sys
import tempfile
import textwrap
from pathlib import Path

from . import course
from .job import DEFAULT_LIMITS as LIMITS
from .job import Limits


def _shard(text):
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 1/3, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"shard {k}/{n}: K must be between 1 and N")
    return k, n


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def cmd_grade(args):
    from . import grading, intake

    if args.sandbox:  # read by each submission's judge (autograder/judge.py)
        os.environ["AUTOGRADER_SANDBOX"] = args.sandbox
    if os.environ.get("AUTOGRADER_SANDBOX") == "require":
        from .judge import sandbox_available

        why = sandbox_available()
        if why:
            print(f"error: --sandbox require, but {why}. Install bubblewrap (Debian: apt-get install "
                  "bubblewrap) where user namespaces are allowed, or grade with --sandbox auto.",
                  file=sys.stderr)
            return 2
    if bool(args.lms) != bool(args.roster):
        print("error: --lms and --roster go together: the roster CSV maps the LMS's file names to "
              "student ids (e.g. --lms canvas --roster gradebook.csv)", file=sys.stderr)
        return 2
    try:
        limits = Limits(cell_timeout=args.timeout, memory_mb=args.memory, output_bytes=args.max_output)
        run = dict(db_url=args.db, limits=limits, workers=args.workers, progress=not args.quiet,
                   keep_scratch=args.keep_scratch, force=args.force, shard=args.shard)
        if args.lms:
            outcomes, problems = _grade_lms(args, run)
        else:
            outcomes, problems = grading.grade(args.submissions, args.out, assignments=args.assignment,
                                               **run)
    except (intake.IntakeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(grading.format_table(outcomes))
    out = Path(args.out)
    print(f"\ngrades:   {out / 'grades.csv'}\nfeedback: {out / 'feedback'}/<student>/<assignment>/"
          f"\nreport:   {out / 'report.txt'}")
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    failed = [o for o in outcomes if o.status in ("failed", "missing")]
    if failed:
        print(f"\n{len(failed)} submission(s) could not be graded:", file=sys.stderr)
        for o in failed:
            print(f"  {o.student_id}/{o.assignment}: {o.problems[0] if o.problems else o.status}",
                  file=sys.stderr)
        return 1
    return 0


def _grade_lms(args, run):
    """Lay an LMS export out as nbgrader's folders (autograder/lms.py), grade it, and put what the
    layout found (late, several copies, files of nobody) in grades.csv and report.txt."""
    from . import grading, lms

    if args.assignment and len(args.assignment) > 1:
        raise ValueError("an LMS export holds one assignment: give --assignment once")
    assignment = course.check_assignment(args.assignment[0]) if args.assignment else None
    with tempfile.TemporaryDirectory(prefix="autograder-lms-") as tmp:
        layout, _ = lms.from_export(args.submissions, args.lms, args.roster, tmp, course.assignments(),
                                    assignment=assignment, id_column=args.id_column,
                                    max_member=run["limits"].disk_bytes)
        # the export and the roster hold every student's work and address: not for students' code
        outcomes, problems = grading.grade(layout.root, args.out, assignments=[layout.assignment],
                                           hide=[args.submissions, args.roster], **run)
    lms.annotate(outcomes, layout)
    problems = layout.problems + problems
    out = Path(args.out)
    grading.write_grades_csv(out / "grades.csv", outcomes, run["db_url"])
    grading.write_report(out / "report.txt", outcomes, problems)
    return outcomes, problems


def cmd_lms_grades(args):
    from . import intake, lms

    try:
        lines = lms.write_import(args.out, args.lms, args.roster, args.csv, assignment=args.assignment,
                                 column=args.column, id_column=args.id_column)
    except (intake.IntakeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.csv}: import it in "
          + ("Canvas (Grades → Import)" if args.lms == "canvas"
             else "Moodle (the assignment's Submissions → Upload grading worksheet)"))
    for line in lines:
        print(f"  - {line}")
    return 0


def cmd_demo(args):
    from . import grading, sample_classes

    with tempfile.TemporaryDirectory() as tmp:
        assignment = sample_classes.demo_class(tmp)
        print(f"Demo class of {assignment}: alice handed in the full solution, bob the untouched "
              "release,\ncarol a solution with one planted mistake, dave a file damaged in upload.\n")
        outcomes, _ = grading.grade(tmp, args.out, limits=Limits(cell_timeout=args.timeout),
                                    workers=args.workers, progress=not args.quiet)
    print(grading.format_table(outcomes))
    print(f"\ngrades: {Path(args.out) / 'grades.csv'}   feedback: {Path(args.out) / 'feedback'}")
    expected = {"alice": "graded", "bob": "graded", "carol": "graded", "dave": "failed"}
    got = {o.student_id: o.status for o in outcomes}
    ok = got == expected and next(o for o in outcomes if o.student_id == "alice").auto_score > 0
    if not ok:
        print(f"\nThe demo did not grade as expected: {got}", file=sys.stderr)
        return 1
    print("\nThe demo graded as expected (dave's damaged file is reported, not fatal).")
    return 0


def cmd_check(args):
    from . import grading, sample_classes

    names = args.assignment or course.assignments()
    all_ok = True
    for name in names:
        course.check_assignment(name)
        with tempfile.TemporaryDirectory() as tmp:
            cls = Path(tmp) / "class"
            expectations = sample_classes.self_check_class(name, cls)
            outcomes, _ = grading.grade(cls, Path(tmp) / "out",
                                        limits=Limits(cell_timeout=args.timeout),
                                        workers=args.workers, progress=not args.quiet,
                                        feedback=False)
        print(f"\n{name}")
        for exp, ok, why in sample_classes.judge(expectations, outcomes):
            all_ok &= ok
            print(f"  {'ok  ' if ok else 'FAIL'} {exp.kind:<11} {exp.description}: {why}")
    return 0 if all_ok else 1


def cmd_release(args):
    from . import release

    for name in args.assignment or course.assignments():
        path = release.generate(course.check_assignment(name))
        print(f"released {path.relative_to(course.ROOT)}")
    return 0


def cmd_execute(args):
    from . import execute, sources

    for name in args.assignment or course.assignments():
        seconds = execute.execute_in_place(course.source_notebook(course.check_assignment(name)))
        sources.write_text(name)
        print(f"executed solutions/{name}/{name}.ipynb in {seconds:.1f} s (outputs saved; "
              f"{name}.pct.py written)")
    return 0


def cmd_sources(args):
    from . import sources

    for name in args.assignment or course.assignments():
        course.check_assignment(name)
        if args.from_text:
            changed = sources.read_text_into_notebook(name)
            print(f"solutions/{name}/{name}.ipynb: {changed} cells changed from {name}.pct.py"
                  + (f"; run `python -m autograder execute {name}`" if changed else ""))
        else:
            print(f"wrote {sources.write_text(name).relative_to(course.ROOT)}")
    return 0


def cmd_fixtures(args):
    from . import references

    for name in args.assignment or list(references.fixture_modules()):
        target = references.write_fixtures(course.check_assignment(name))
        print(f"wrote {target.relative_to(course.ROOT)} (visible tests' inputs and mistakes' outputs)")
    return 0


def cmd_pack(args):
    from . import pack

    files = pack.build(args.out, args.assignment or None, force=args.force)
    print(f"wrote the student pack to {args.out}: {len(files)} files (release notebooks, utils/ with "
          "its fixtures, requirements.txt, pyproject.toml, README.md); no solutions, no mistake "
          "catalogue, no autograder, no graded function")
    return 0


def cmd_feedback(args):
    from . import feedback

    try:
        done, failed = feedback.regenerate(args.out, assignments=args.assignment,
                                           students=args.student)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for student, assignment in done:
        print(f"{student}/{assignment}: {Path(args.out) / 'feedback' / student / assignment}/")
    print(f"\n{len(done)} feedback page(s) written from the gradebook.")
    changed = feedback.refresh_grades_csv(args.out)
    print(f"{Path(args.out) / 'grades.csv'}: scores read again from the gradebook "
          f"({changed} row(s) changed).")
    if not done and not failed:
        print("Nothing matched: check --assignment and --student.", file=sys.stderr)
        return 1
    if failed:
        print(f"\n{len(failed)} could not be written:", file=sys.stderr)
        for student, assignment, why in failed:
            print(f"  {student}/{assignment}: {why}", file=sys.stderr)
        return 1
    return 0


def cmd_benchmark(args):
    from . import benchmark

    benchmark.main(args.assignment, students=args.students, workers=args.workers,
                   references_only=args.references)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograder", formatter_class=_formatter,
        description="Release, grade and check the notebooks of the RNN course (nbgrader inside).",
        epilog=textwrap.dedent("""\
            examples:
              python -m autograder demo
              python -m autograder grade submissions.zip --out grades-week3
              python -m autograder feedback grades-week3     # after grading by hand in formgrader
              python -m autograder check 01_one_hot
            """))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lms_choices = ["canvas", "moodle"]  # autograder.lms.LAYOUTS, without importing it for --help

    g = sub.add_parser(
        "grade", formatter_class=_formatter,
        help="grade a folder or zip of submissions: grades.csv, feedback pages, a report",
        description=textwrap.dedent("""\
            Grade every submission with nbgrader, each in its own scratch copy and kernel.
            SUBMISSIONS is a folder laid out <student_id>/<assignment>/<notebook>.ipynb
            (nbgrader's submitted/ layout) or a .zip of one, as an LMS exports it; with
            --lms canvas|moodle and --roster, the LMS's own download of all submissions of one
            assignment (then `lms-grades` writes the grades back as a CSV it imports).
            Writes OUT/grades.csv, OUT/feedback/<student_id>/<assignment>/<notebook>.html,
            OUT/report.txt and the gradebook (OUT/gradebook.db unless --db is given).
            Exit status 0 when every submission was graded, 1 when some could not be (they are
            listed), 2 when the submissions could not be read at all."""),
        epilog=textwrap.dedent("""\
            example:
              python -m autograder grade ~/Downloads/week3.zip --out grading/week3 --assignment 02_elman_rnn
            """))
    g.add_argument("submissions", help="folder or .zip of submissions")
    g.add_argument("--out", required=True, help="folder for grades.csv, feedback/ and report.txt")
    g.add_argument("--assignment", action="append", metavar="NAME",
                   help="grade only this assignment (repeatable); default: every one found")
    g.add_argument("--db", metavar="URL",
                   help="gradebook as an SQLAlchemy URL, e.g. postgresql://user@host/course "
                        "(default: sqlite:///OUT/gradebook.db)")
    g.add_argument("--timeout", type=_positive, default=LIMITS.cell_timeout, metavar="SECONDS",
                   help=f"time limit of each notebook cell (default {LIMITS.cell_timeout})")
    g.add_argument("--workers", type=_positive, default=None,
                   help="submissions graded at once (default: the number of cores)")
    g.add_argument("--memory", type=int, default=LIMITS.memory_mb, metavar="MB",
                   help=f"memory limit of each student kernel in MB; 0 for none (default {LIMITS.memory_mb})")
    g.add_argument("--sandbox", choices=["auto", "require", "off"], default=None,
                   help="run each student's kernel in a bubblewrap sandbox: where available (auto, "
                        "the default), or refuse to grade without it (require), or never (off)")
    g.add_argument("--max-output", type=int, default=LIMITS.output_bytes, metavar="CHARS",
                   help="characters a notebook may print before the rest is dropped "
                        f"(default {LIMITS.output_bytes:,})")
    g.add_argument("--force", action="store_true",
                   help="regrade everything (default: skip submissions unchanged since graded)")
    g.add_argument("--shard", type=_shard, metavar="K/N",
                   help="grade only shard K of N of the students (several machines, one --db)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--keep-scratch", action="store_true", help="keep the scratch folders (debugging)")
    g.add_argument("--lms", choices=lms_choices, default=None,
                   help="SUBMISSIONS is this LMS's download of all submissions of one assignment "
                        "(needs --roster)")
    g.add_argument("--roster", metavar="CSV",
                   help="with --lms: Canvas's gradebook export or Moodle's grading worksheet")
    g.add_argument("--id-column", metavar="COLUMN",
                   help="with --lms: the roster column that gives student ids (default: Canvas "
                        "'SIS Login ID', Moodle 'Email address'; an e-mail gives its local part)")
    g.set_defaults(func=cmd_grade)

    m = sub.add_parser(
        "lms-grades", formatter_class=_formatter,
        help="write the grades of a `grade` run as a CSV that Canvas or Moodle imports",
        description="Read OUT/grades.csv of an earlier `grade` and the LMS roster, and write a CSV "
                    "for Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID, "
                    "Section, one assignment column, Points Possible) or Moodle's 'Upload grading "
                    "worksheet' (the worksheet with Grade filled in). A submission that was not "
                    "graded gets an empty cell, not 0, and a line saying why.",
        epilog="examples:\n"
               "  python -m autograder lms-grades grading/week1 --lms canvas --roster gradebook.csv "
               "--csv import.csv\n"
               "  python -m autograder lms-grades grading/week1 --lms moodle --roster worksheet.csv "
               "--csv worksheet-graded.csv")
    m.add_argument("out", help="the --out folder of an earlier `grade`")
    m.add_argument("--lms", choices=lms_choices, required=True)
    m.add_argument("--roster", required=True, metavar="CSV",
                   help="the roster given to `grade` (Canvas gradebook export, Moodle grading worksheet)")
    m.add_argument("--csv", required=True, metavar="FILE", help="the CSV to write")
    m.add_argument("--column", metavar="NAME",
                   help="Canvas: the assignment column (default: the roster's '<assignment> (<id>)', "
                        "else a new column named by the assignment); Moodle: the grade column "
                        "(default 'Grade')")
    m.add_argument("--assignment", metavar="NAME",
                   help="the assignment (default: the only one in grades.csv)")
    m.add_argument("--id-column", metavar="COLUMN", help="the same --id-column as given to `grade`")
    m.set_defaults(func=cmd_lms_grades)

    f = sub.add_parser(
        "feedback", formatter_class=_formatter,
        help="write the feedback pages again after grading written answers in formgrader",
        description="Run nbgrader's generate_feedback in a folder that `grade` wrote, reading the "
                    "gradebook, so that each page shows the scores and comments given by hand, "
                    "and rewrite the scores in its grades.csv from the gradebook. "
                    "Pages are made from the public copies of the autograded notebooks: no "
                    "hidden tests' code. Use the --db given to `grade`, if any, through the "
                    "folder's nbgrader_config.py (written by `grade`).",
        epilog="example:\n  python -m autograder feedback grading/week2 --assignment 02_elman_rnn")
    f.add_argument("out", help="the --out folder of an earlier `grade`")
    f.add_argument("--assignment", action="append", metavar="NAME",
                   help="only this assignment (repeatable); default: all")
    f.add_argument("--student", action="append", metavar="ID",
                   help="only this student (repeatable); default: all")
    f.set_defaults(func=cmd_feedback)

    d = sub.add_parser(
        "demo", formatter_class=_formatter,
        help="grade a small bundled class (the main job, end to end) and print the gradebook",
        description="Build a class of four from notebook 01 (full solution, untouched release, "
                    "one planted mistake, a damaged file) and grade it through the same code as "
                    "`grade`.",
        epilog="example:\n  python -m autograder demo --out demo-grades")
    d.add_argument("--out", default="demo-grades", help="output folder (default: demo-grades)")
    d.add_argument("--timeout", type=_positive, default=LIMITS.cell_timeout, metavar="SECONDS")
    d.add_argument("--workers", type=_positive, default=None)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser(
        "check", formatter_class=_formatter,
        help="self-check assignments: solution full marks, release 0, planted mistakes lose points",
        description="For each assignment, grade the solution (must get full automatic points), "
                    "the untouched release (must get 0), every mistake of its catalogue "
                    "(solutions/NN/mistakes.toml; must lose points and show its message) and every "
                    "correct alternative (must keep full points).",
        epilog="example:\n  python -m autograder check 01_one_hot")
    c.add_argument("assignment", nargs="*", help="assignments to check (default: all)")
    c.add_argument("--timeout", type=_positive, default=LIMITS.cell_timeout, metavar="SECONDS")
    c.add_argument("--workers", type=_positive, default=None)
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_check)

    r = sub.add_parser(
        "release", formatter_class=_formatter,
        help="regenerate the student notebooks in notebooks/ from solutions/ (nbgrader)",
        description="Run nbgrader generate_assignment for each assignment: solutions/NN/NN.ipynb "
                    "-> notebooks/NN/NN.ipynb (solutions and hidden tests removed, outputs cleared).",
        epilog="example:\n  python -m autograder release            # every assignment")
    r.add_argument("assignment", nargs="*", help="assignments to release (default: all)")
    r.set_defaults(func=cmd_release)

    e = sub.add_parser(
        "execute", formatter_class=_formatter,
        help="run solution notebooks top to bottom and save their outputs (for self-learners)",
        description="Execute solutions/NN/NN.ipynb in full (not in grading mode) and keep the "
                    "outputs in the file, so that the solutions render with their plots.",
        epilog="example:\n  python -m autograder execute 02_elman_rnn")
    e.add_argument("assignment", nargs="*", help="assignments to execute (default: all)")
    e.set_defaults(func=cmd_execute)

    t = sub.add_parser(
        "sources", formatter_class=_formatter,
        help="write solutions/NN/NN.pct.py, the notebook as reviewable text (jupytext), or read it back",
        description="Each solutions/NN/NN.ipynb has a twin NN.pct.py in jupytext's percent format, with "
                    "every cell's nbgrader metadata: what a diff or a review shows. Without options, "
                    "write the text from the notebook; with --from-text, put the text's edits into "
                    "the notebook (unchanged cells keep their outputs; then run `execute`).",
        epilog="examples:\n  python -m autograder sources\n"
               "  python -m autograder sources 02_elman_rnn --from-text")
    t.add_argument("assignment", nargs="*", help="assignments (default: all)")
    t.add_argument("--from-text", action="store_true", help="read NN.pct.py into NN.ipynb")
    t.set_defaults(func=cmd_sources)

    x = sub.add_parser(
        "fixtures", formatter_class=_formatter,
        help="remake utils/fixtures/NN.npz: the visible tests' inputs and the mistakes' outputs",
        description="Compute, with the instructor-only references of autograder/references, the "
                    "data the visible tests compare with (fixed inputs, the correct outputs and "
                    "what each catalogued mistake returns on them) and save it in "
                    "utils/fixtures/NN.npz, which ships to students as data, never as code.",
        epilog="example:\n  python -m autograder fixtures 05_lstm")
    x.add_argument("assignment", nargs="*", help="assignments (default: every one with references)")
    x.set_defaults(func=cmd_fixtures)

    k = sub.add_parser(
        "pack", formatter_class=_formatter,
        help="build what a graded class gets: release notebooks, utils/, install file, README",
        description="Write the student pack: the release notebooks (notebooks/), the student "
                    "library (utils/, with its fixtures), requirements.txt and a pyproject.toml "
                    "that installs it, and a README for students. It holds no solutions/, no "
                    "mistakes.toml, no autograder package, no nbgrader solution or hidden-test "
                    "marker and no function that solves a graded exercise; the pack is checked "
                    "and refused otherwise.",
        epilog="example:\n  python -m autograder pack --out ../rnn-course-pack\n"
               "  cd ../rnn-course-pack && pip install -r requirements.txt")
    k.add_argument("assignment", nargs="*", help="assignments to include (default: all)")
    k.add_argument("--out", required=True, help="the folder to write (new or empty, outside the course)")
    k.add_argument("--force", action="store_true", help="replace a folder that is not empty")
    k.set_defaults(func=cmd_pack)

    b = sub.add_parser(
        "benchmark", formatter_class=_formatter,
        help="time each notebook's full run, grading-mode run and grading (figures for the README)",
        description="Print how long each solution takes to run in full and in grading mode, and "
                    "to grade one submission; with --students, a class graded sequentially and "
                    "in parallel.",
        epilog="example:\n  python -m autograder benchmark --students 8")
    b.add_argument("assignment", nargs="*", help="assignments to time (default: all)")
    b.add_argument("--students", type=int, default=0, help="also grade a class of this size")
    b.add_argument("--workers", type=_positive, default=None)
    b.add_argument("--references", action="store_true",
                   help="only time the NumPy references of the LSTM and GRU against torch")
    b.set_defaults(func=cmd_benchmark)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the submissions graded so far are in the gradebook; run the same "
              "command again to grade the rest", file=sys.stderr)
        return 130
