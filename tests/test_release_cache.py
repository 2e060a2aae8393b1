"""What makes releasing and grading cheaper must not change what nbgrader makes."""

import json
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder import course, nbgrader_fast, release

A = "01_one_hot"


@pytest.mark.slow
def test_the_alembic_head_is_the_one_nbgrader_finds():
    assert nbgrader_fast.alembic_head() == nbgrader_fast.NBGRADER_OWN()


def _cells(db):
    with Gradebook(f"sqlite:///{db}") as gb:
        nb = gb.find_assignment(A).notebooks[0]
        return sorted((c.name, c.max_score, c.cell_type) for c in nb.grade_cells), \
            sorted((c.name, c.checksum) for c in nb.source_cells)


@pytest.mark.slow
def test_a_reused_release_is_what_nbgrader_makes(tmp_path, monkeypatch):
    fresh_db = tmp_path / "fresh.db"
    fresh = release.generate(A, release_dir=tmp_path / "fresh", db_url=f"sqlite:///{fresh_db}")
    runs = []
    run = release._run_nbgrader
    monkeypatch.setattr(release, "_run_nbgrader", lambda *a: runs.append(a) or run(*a))
    for k in (1, 2):
        db = tmp_path / f"r{k}.db"
        reused = release.generate(A, release_dir=tmp_path / f"r{k}", db_url=f"sqlite:///{db}", reuse=True)
        assert json.loads(reused.read_text()) == json.loads(fresh.read_text())
        assert _cells(db) == _cells(fresh_db)
    assert len(runs) <= 1, "the second reuse ran nbgrader again"

    # other sources are released again, not copied from before
    before = len(runs)
    monkeypatch.setattr(release, "_sources_hash", lambda assignment: "sources edited since")
    release.generate(A, release_dir=tmp_path / "edited", reuse=True)
    assert len(runs) == before + 1


def test_the_sources_hash_sees_every_byte_and_name(tmp_path, monkeypatch):
    shutil.copytree(course.SOURCE_DIR / A, tmp_path / A)
    monkeypatch.setattr(course, "SOURCE_DIR", tmp_path)
    seen = {release._sources_hash(A)}
    toml = tmp_path / A / "mistakes.toml"
    toml.write_bytes(toml.read_bytes() + b" ")
    seen.add(release._sources_hash(A))
    toml.rename(tmp_path / A / "mistakes2.toml")
    seen.add(release._sources_hash(A))
    assert len(seen) == 3


def test_an_existing_gradebook_is_never_overwritten_by_a_copy(tmp_path, monkeypatch):
    """A course's own gradebook (other assignments, students, grades) is released into by nbgrader
    itself, never replaced by a cached file."""
    db = tmp_path / "course.db"
    db.write_bytes(b"not a copy")
    runs = []
    monkeypatch.setattr(release, "_run_nbgrader", lambda *a: runs.append(a) or a[1] / A / f"{A}.ipynb")
    release.generate(A, release_dir=tmp_path, db_url=f"sqlite:///{db}", reuse=True)
    release.generate(A, release_dir=tmp_path, db_url="postgresql://u@h/course", reuse=True)
    assert len(runs) == 2 and db.read_bytes() == b"not a copy"
