"""LMS intake and grade export (autograder/lms.py): Canvas's and Moodle's file names, rosters and
import CSVs, fast; and one class of each LMS graded end to end (slow)."""

import csv
import subprocess
import sys

import pytest

from autograder import cli, course, lms, sample_classes
from autograder.intake import IntakeError

A = "01_one_hot"


def _csv(path, rows, encoding="utf-8", delimiter=","):
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


CANVAS_HEAD = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (5551)", "Current Points"]


def _canvas_roster(path, *students, encoding="utf-8-sig", delimiter=","):
    return _csv(path, [CANVAS_HEAD,
                       ["", "", "", "", "", "Manual Posting", ""],
                       ["    Points Possible", "", "", "", "", "12.00", "(read only)"],
                       *[[name, uid, "", login, "S1", "", ""] for name, uid, login in students]],
                encoding=encoding, delimiter=delimiter)


MOODLE_HEAD = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
               "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
               "Feedback comments"]


def _moodle_roster(path, *students):
    return _csv(path, [MOODLE_HEAD] + [
        [f"Participant {pid}", name, email, "Submitted for grading", "", "12.00", "Yes", "-", "x", ""]
        for pid, name, email in students])


# ------------------------------------------------------------------------------------ file names


@pytest.mark.parametrize("name, expected", [
    (f"doejane_12345_678_{A}.ipynb", ("12345", f"{A}.ipynb", False, 678)),
    (f"doejane_late_12345_678_{A}.ipynb", ("12345", f"{A}.ipynb", True, 678)),
    (f"doejane_LATE_12345_678_{A}-1.ipynb", ("12345", f"{A}-1.ipynb", True, 678)),
    (f"smith2ann_7_8_{A}.ipynb", ("7", f"{A}.ipynb", False, 8)),  # a digit in the name
    (f"o_brienx_7_8_{A}.ipynb", ("7", f"{A}.ipynb", False, 8)),  # "_" without digits in the name
    ("doejane_12_34_my_5_notes.txt", ("12", "my_5_notes.txt", False, 34)),
])
def test_canvas_file_names_give_the_user_id_and_the_file(name, expected):
    got = lms.parse_canvas_name(name)
    assert got is not None, f"{name} should parse as a Canvas submission file"
    assert (got["lms_id"], got["file_name"], got["late"], got["order"]) == expected


@pytest.mark.parametrize("name", [f"anon_x7k2p_9_{A}.ipynb", f"late_anon_x7k2p_9_{A}.ipynb",
                                  "doejane_12345_text.html", f"{A}.ipynb", f"_1_2_{A}.ipynb"])
def test_names_canvas_does_not_write_for_a_known_student_do_not_parse(name):
    assert lms.parse_canvas_name(name) is None, f"{name} must not map to a student"


@pytest.mark.parametrize("name, expected", [
    ("Jane Doe_12345_assignsubmission_file_", ("12345", "assignsubmission_file", "")),
    ("Jane Doe_12345_assignsubmission_file", ("12345", "assignsubmission_file", "")),  # Moodle 4.x
    (f"Jane Doe_12345_assignsubmission_file_{A}.ipynb", ("12345", "assignsubmission_file", f"{A}.ipynb")),
    ("Participant_77_assignsubmission_onlinetext_", ("77", "assignsubmission_onlinetext", "")),
])
def test_moodle_names_give_the_participant_id(name, expected):
    assert lms.parse_moodle_name(name) == expected


def test_a_moodle_name_without_a_participant_id_does_not_parse():
    assert lms.parse_moodle_name(f"Jane Doe_{A}.ipynb") is None


# ---------------------------------------------------------------------------------------- rosters


def test_a_canvas_roster_with_bom_semicolons_and_format_rows_is_read(tmp_path):
    path = _canvas_roster(tmp_path / "r.csv", ("Doe, Jane", "11", "jane.doe@uni.example"),
                          ("Roe, Ray", "12", ""), ("Poe, Al", "13", "al poe"), delimiter=";")
    roster = lms.read_roster(path, "canvas")
    assert [(s.lms_id, s.name, s.student_id) for s in roster.students] == [
        ("11", "Doe, Jane", "jane.doe"), ("12", "Roe, Ray", "12"), ("13", "Poe, Al", "13")]
    assert len(roster.preamble) == 2, "the manual posting and Points Possible rows are not students"
    assert roster.header[0] == "Student", "the byte-order mark must not stick to the first column"
    assert any("Roe, Ray" in p and "empty" in p for p in roster.problems), roster.problems
    assert any("'al poe'" in p and "not a usable student id" in p for p in roster.problems), roster.problems


def test_another_id_column_can_be_chosen_and_a_missing_one_is_an_error(tmp_path):
    path = _canvas_roster(tmp_path / "r.csv", ("Doe, Jane", "11", "jd"))
    assert lms.read_roster(path, "canvas", id_column="ID").students[0].student_id == "11"
    with pytest.raises(lms.LmsError, match="no column 'Matrikel' for --id-column"):
        lms.read_roster(path, "canvas", id_column="Matrikel")


def test_a_roster_of_the_wrong_lms_says_what_to_export(tmp_path):
    path = _moodle_roster(tmp_path / "w.csv", (1, "Jane Doe", "jd@x.example"))
    with pytest.raises(lms.LmsError, match="no 'ID' column.*Canvas's gradebook export"):
        lms.read_roster(path, "canvas")
    with pytest.raises(lms.LmsError, match="not UTF-8"):
        lms.read_roster(_csv(tmp_path / "l.csv", [["Identifier"], ["Teilnehmer/in 1 ä"]], "latin-1"),
                        "moodle")


def test_moodle_ids_are_email_local_parts_and_shared_ones_fall_back(tmp_path):
    path = _moodle_roster(tmp_path / "w.csv", (501, "Ann Lee", "ann@a.example"),
                          (502, "Cy Lee", "cy@a.example"), (503, "Cy Low", "cy@b.example"))
    roster = lms.read_roster(path, "moodle")
    assert [(s.lms_id, s.student_id) for s in roster.students] == [
        ("501", "ann"), ("502", "502"), ("503", "503")]
    assert sum("shared by 2 roster rows" in p for p in roster.problems) == 2, roster.problems


def test_a_worksheet_without_emails_uses_participant_ids_and_says_so(tmp_path):
    path = _csv(tmp_path / "w.csv", [["Identifier", "Full name", "Grade"],
                                     ["Teilnehmer/in 42", "Jan Doe", ""]])
    roster = lms.read_roster(path, "moodle")
    assert roster.students[0].student_id == "42"
    assert any("no 'Email address' column" in p for p in roster.problems), roster.problems


# ---------------------------------------------------------------------------------------- layout


def _export(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    return folder


def test_canvas_files_are_laid_out_for_nbgrader_with_every_problem_named(tmp_path):
    roster = lms.read_roster(_canvas_roster(tmp_path / "r.csv", ("A, A", "1", "aa"), ("B, B", "2", "bb"),
                                            ("C, C", "3", "cc"), ("D, D", "4", "dd")), "canvas")
    export = _export(tmp_path / "zip", [
        f"aa_1_10_{A}.ipynb", f"aa_1_12_{A}-2.ipynb", f"aa_1_11_{A} (1).ipynb", "aa_1_13_notes.txt",
        "bb_late_2_20_mine.ipynb", "cc_3_30_x.ipynb", "cc_3_31_y.ipynb",
        f"zz_9_90_{A}.ipynb", "readme.txt"])
    files, problems = lms.list_export(export, "canvas")
    layout = lms.lay_out(files, roster, A, tmp_path / "class")
    placed = sorted(p.relative_to(layout.root).as_posix() for p in layout.root.rglob("*.ipynb"))
    assert placed == [f"aa/{A}/{A}.ipynb", "bb/01_one_hot/mine.ipynb",
                      f"cc/{A}/x.ipynb", f"cc/{A}/y.ipynb"], placed
    assert (layout.root / "aa" / A / f"{A}.ipynb").read_text() == f"aa_1_12_{A}-2.ipynb", "-2 must win"
    assert (layout.root / "dd").is_dir() and not any((layout.root / "dd").iterdir()), \
        "a student with nothing handed in gets an empty folder (a 'not submitted' row)"
    assert any(f"graded {A}-2.ipynb" in n for n in layout.notes["aa"]), layout.notes
    assert any("notes.txt" in n for n in layout.notes["aa"]), layout.notes
    assert any("late" in n for n in layout.notes["bb"]), layout.notes
    assert any(f"no file named {A}.ipynb" in n for n in layout.notes["cc"]), layout.notes
    assert any("'readme.txt'" in p for p in problems), problems
    assert any("id 9 is not on the roster" in p for p in layout.problems), layout.problems


def test_a_link_in_an_unzipped_export_is_named_and_not_followed(tmp_path):
    export = _export(tmp_path / "dir", [f"aa_1_10_{A}.ipynb"])
    (tmp_path / "secret.ipynb").write_text("other student's work")
    (export / f"bb_2_20_{A}.ipynb").symlink_to(tmp_path / "secret.ipynb")
    files, problems = lms.list_export(export, "canvas")
    assert [f.lms_id for f in files] == ["1"], "a link is no hand-in"
    assert any(f"'bb_2_20_{A}.ipynb' is a link" in p for p in problems), problems


def test_moodle_folders_flat_files_and_online_text_are_laid_out(tmp_path):
    roster = lms.read_roster(_moodle_roster(tmp_path / "w.csv", (5, "Ann Lee", "ann@x.example"),
                                            (6, "Bo Ek", "bo@x.example")), "moodle")
    export = _export(tmp_path / "unzipped" / "wrapper", [
        f"Ann Lee_5_assignsubmission_file_/sub/{A}.ipynb",
        "Ann Lee_5_assignsubmission_onlinetext_/onlinetext.html",
        f"Bo Ek_6_assignsubmission_file_{A}.ipynb", "stray.ipynb"])
    files, problems = lms.list_export(export.parent, "moodle")
    layout = lms.lay_out(files, roster, A, tmp_path / "class")
    ann = (layout.root / "ann" / A / f"{A}.ipynb").read_text()
    assert ann == f"Ann Lee_5_assignsubmission_file_/sub/{A}.ipynb", "a file in a sub-folder is found"
    assert (layout.root / "bo" / A / f"{A}.ipynb").is_file()
    assert any("onlinetext" in n for n in layout.notes["ann"]), layout.notes
    assert any("'stray.ipynb'" in p and "not a Moodle submission" in p for p in problems), problems


def test_the_assignment_is_guessed_from_the_file_names_or_asked_for(tmp_path):
    roster_path = _canvas_roster(tmp_path / "r.csv", ("A, A", "1", "aa"))
    _export(tmp_path / "one", [f"aa_1_10_{A}-3.ipynb"])
    known = course.assignments()
    layout, _ = lms.from_export(tmp_path / "one", "canvas", roster_path, tmp_path / "w1", known)
    assert layout.assignment == A
    _export(tmp_path / "two", [f"aa_1_10_{A}.ipynb", "aa_1_11_02_elman_rnn.ipynb"])
    with pytest.raises(lms.LmsError, match="give it with --assignment"):
        lms.from_export(tmp_path / "two", "canvas", roster_path, tmp_path / "w2", course.assignments())
    with pytest.raises(IntakeError, match="not a readable zip"):
        (tmp_path / "bad.zip").write_text("not a zip")
        lms.from_export(tmp_path / "bad.zip", "canvas", roster_path, tmp_path / "w3", course.assignments())


# ---------------------------------------------------------------------------------- grade export


def _grades(out, *rows):
    out.mkdir(parents=True, exist_ok=True)
    _csv(out / "grades.csv", [["student_id", "assignment", "score", "max_score", "auto_score",
                               "auto_max_score", "status", "problems", "integrity"]]
         + [[sid, A, score, "12", score, "9", status, problems, ""] for sid, score, status, problems in rows])
    return out


def test_the_canvas_import_has_canvas_columns_points_possible_and_empty_ungraded_cells(tmp_path):
    roster = _canvas_roster(tmp_path / "r.csv", ("Doe, Jane", "11", "jd"), ("Roe, Ray", "12", "rr"),
                            ("Poe, Al", "13", "ap"), ("Loe, Bo", "14", "bl"))
    out = _grades(tmp_path / "out", ("jd", "10.5", "graded", ""), ("rr", "0", "graded", ""),
                  ("ap", "0", "failed", "a.ipynb is damaged; more"), ("bl", "0", "not submitted", ""),
                  ("ghost", "3", "graded", ""))
    lines = lms.write_import(out, "canvas", roster, tmp_path / "import.csv")
    assert _rows(tmp_path / "import.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (5551)"],
        ["    Points Possible", "", "", "", "", "12"],
        ["Doe, Jane", "11", "", "jd", "S1", "10.5"],
        ["Roe, Ray", "12", "", "rr", "S1", "0"],
        ["Poe, Al", "13", "", "ap", "S1", ""],
        ["Loe, Bo", "14", "", "bl", "S1", ""]]
    assert "Poe, Al (ap): left empty, failed: a.ipynb is damaged" in lines, lines
    assert "Loe, Bo (bl): left empty, not submitted" in lines, lines
    assert any(line.startswith("ghost is in grades.csv but not on the roster") for line in lines), lines


def test_a_canvas_column_can_be_named_and_a_new_one_is_announced(tmp_path):
    roster = _csv(tmp_path / "r.csv", [CANVAS_HEAD[:5], ["Doe, Jane", "11", "", "jd", "S1"]])
    out = _grades(tmp_path / "out", ("jd", "7", "graded", ""))
    lines = lms.write_import(out, "canvas", roster, tmp_path / "i.csv", column="Week 1 notebook")
    assert _rows(tmp_path / "i.csv")[0][-1] == "Week 1 notebook"
    assert any("Canvas will create a new assignment" in line for line in lines), lines


def test_the_moodle_worksheet_comes_back_with_only_grade_filled(tmp_path):
    roster = _moodle_roster(tmp_path / "w.csv", (5, "Ann Lee", "ann@x.example"), (6, "Bo Ek", "bo@x.example"))
    out = _grades(tmp_path / "out", ("ann", "12", "graded", ""), ("bo", "0", "failed", "damaged"))
    lines = lms.write_import(out, "moodle", roster, tmp_path / "up.csv")
    rows = _rows(tmp_path / "up.csv")
    assert rows[0] == MOODLE_HEAD, "Moodle's upload needs the worksheet's own header"
    assert rows[1] == ["Participant 5", "Ann Lee", "ann@x.example", "Submitted for grading", "12", "12.00",
                       "Yes", "-", "x", ""]
    assert rows[2][4] == "" and rows[2][8] == "x", "ungraded: Grade empty, Last modified (grade) kept"
    assert "Bo Ek (bo): left empty, failed: damaged" in lines, lines


def test_a_moodle_maximum_grade_that_differs_is_reported(tmp_path):
    roster = _csv(tmp_path / "w.csv", [MOODLE_HEAD, ["Participant 5", "Ann Lee", "ann@x.example", "",
                                                     "", "100.00", "Yes", "-", "-", ""]])
    lines = lms.write_import(_grades(tmp_path / "out", ("ann", "12", "graded", "")), "moodle", roster,
                             tmp_path / "up.csv")
    assert any("Moodle's maximum grade is 100, the notebook's 12" in line for line in lines), lines


# ------------------------------------------------------------------------------------------- CLI


def test_the_cli_refuses_lms_without_roster_and_unreadable_input_with_status_2(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--lms", "canvas"]) == 2
    assert "--lms and --roster go together" in capsys.readouterr().err
    roster = _canvas_roster(tmp_path / "r.csv", ("Doe, Jane", "11", "jd"))
    (tmp_path / "bad.zip").write_text("nope")
    assert cli.main(["grade", str(tmp_path / "bad.zip"), "--out", str(tmp_path / "o"), "--lms", "canvas",
                     "--roster", str(roster), "--assignment", A]) == 2
    assert "not a readable zip" in capsys.readouterr().err
    assert not (tmp_path / "o").exists(), "nothing is written when the input cannot be read"
    assert cli.main(["lms-grades", str(tmp_path / "o"), "--lms", "canvas", "--roster", str(roster),
                     "--csv", str(tmp_path / "i.csv")]) == 2
    assert "give the --out folder of an earlier `grade` run" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ end to end


def _run(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=course.ROOT,
                          capture_output=True, text=True, timeout=600)


def _round_trip(tmp_path, kind, status):
    """Grade a generated export of ``kind`` (expecting exit ``status``) and write its import CSV;
    returns the expectations, grades.csv's rows, the import's rows and the commands' output."""
    zip_path, roster, expected = getattr(sample_classes, f"{kind}_export")(tmp_path / "export")
    out = tmp_path / "out"
    graded = _run("grade", zip_path, "--out", out, "--lms", kind, "--roster", roster, "--workers", 2,
                  "--timeout", 30, "--quiet")
    assert graded.returncode == status, graded.stdout + graded.stderr
    made = _run("lms-grades", out, "--lms", kind, "--roster", roster, "--csv", tmp_path / "import.csv")
    assert made.returncode == 0, made.stdout + made.stderr
    with open(out / "grades.csv", newline="") as f:
        grades = {r["student_id"]: r for r in csv.DictReader(f)}
    return expected, grades, _rows(tmp_path / "import.csv"), graded.stdout + graded.stderr + made.stdout


def _check_scores(expected, grades, scores, log):
    assert set(scores) == set(expected), (scores, log)
    for sid, kind in expected.items():
        row = grades[sid]
        if kind == "empty":
            assert scores[sid] == "" and row["status"] != "graded", (sid, row, log)
            assert f"({sid}): left empty" in log, log
            continue
        assert row["status"] == "graded" and scores[sid] == f"{float(row['score']):g}", (sid, row, scores)
        auto, top = float(row["auto_score"]), float(row["auto_max_score"])
        assert {"full": auto == top > 0, "zero": auto == 0, "partial": 0 < auto < top}[kind], (sid, kind, row)


@pytest.mark.slow
def test_a_canvas_export_is_graded_and_its_import_csv_written(tmp_path):
    expected, grades, rows, log = _round_trip(tmp_path, "canvas", 1)  # 1: a damaged file
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and rows[0][5] == \
        f"{A} (5551)", rows[0]
    ids = {"101": "ann.lee", "102": "102", "103": "cdiaz", "104": "dee"}
    _check_scores(expected, grades, {ids[r[1]]: r[5] for r in rows[2:]}, log)
    assert grades["cdiaz"]["status"] == "not submitted", grades["cdiaz"]
    assert "handed in late" in grades["102"]["problems"], grades["102"]
    assert "written answers nobody has graded yet" in log and "ann.lee, 102" in log, log
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "id 999 is not on the roster" in report and "anonymous grading" in report, report


@pytest.mark.slow
def test_a_moodle_export_is_graded_and_its_worksheet_filled(tmp_path):
    expected, grades, rows, log = _round_trip(tmp_path, "moodle", 0)  # not submitted is no failure
    assert rows[0] == MOODLE_HEAD, rows[0]
    ids = {"Participant 501": "ann", "Participant 502": "bob", "Participant 503": "503",
           "Participant 504": "504"}
    _check_scores(expected, grades, {ids[r[0]]: r[4] for r in rows[1:]}, log)
    assert "onlinetext" in grades["bob"]["problems"], grades["bob"]
