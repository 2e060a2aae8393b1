"""Two shards of a class graded as if on two machines, into one PostgreSQL gradebook over TCP (issue 14).

The README's recipe for a class too large for one machine is `--db postgresql://…` plus `--shard K/N`,
each shard on its own machine. tests/test_postgres.py runs two shards side by side in one folder; here
each "machine" is a network namespace of its own, and each shard runs in a private view of the file
system (bubblewrap), so that it *cannot* share anything with the other but what machines share:

- the network: the database is a third namespace (the "database server"); each machine has a veth
  link to it and a route to its one address, and nothing else. The database lives in a namespace of
  its own rather than in the host's because this kernel has neither nftables/iptables nor tc's
  classifiers: a server in the host namespace would also expose every host service listening on
  0.0.0.0 to the shards.
- the file system: the whole tree read-only, a private /tmp (the node-local scratch), the test's
  folder replaced by an empty one with only this machine's own folder (output, HOME with its
  ~/.pgpass) put back writable and the submissions read-only.

The grader then starts each student's kernel in its own bubblewrap sandbox inside that one
(`--sandbox require`). Nesting works with the host's /proc bound in (a fresh proc mount carries
bubblewrap's read-only covers, and the kernel refuses the inner sandbox a proc mount under them) and
with `nsenter --net` rather than `ip netns exec`, which remounts /sys and so loses the memory cgroups.

After both shards finish, their output folders are copied into one and `feedback` is run on it, as
the README's sharding recipe says. Needs root, iproute2, bubblewrap and PostgreSQL's server
programs; skipped with the reason otherwise.
"""

import contextlib
import csv
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from nbgrader.api import Gradebook
from test_postgres import _server_programs, read_csv

from autograder import catalogue, course, grading, notebooks, sample_classes

A = "01_one_hot"
pytestmark = pytest.mark.slow

DB_ADDR = "10.77.0.1"  # the database's one address, on the loopback of its own namespace
PASSWORD = secrets.token_hex(12)
# the class: two full solutions, a planted mistake, an untouched release and a student who handed
# in nothing; the names split 3/2 between the shards (checked in make_class)
KINDS = {"ann": "solution", "bob": "mistake", "ivy": "nothing", "cat": "solution", "dan": "release"}
SHARD_OF = {"ann": 1, "bob": 1, "ivy": 1, "cat": 2, "dan": 2}


def missing_requirements():
    """Why this test cannot run here, or "" when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nsenter", "bwrap", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: iproute2, util-linux, bubblewrap)"
    if _server_programs() is None:
        return "PostgreSQL's initdb and pg_ctl are not installed (Debian: postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no 'postgres' user to run the server as"
    return ""


def sh(*cmd, timeout=60):
    """Run a command that must succeed; fail with its output otherwise."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Network:
    """Three network namespaces, ``<prefix>d`` (the database server) and ``<prefix>1``,
    ``<prefix>2`` (the machines), each machine linked to the server only. Deleted on exit, whatever
    happened (their veth links go with them)."""

    def __init__(self):
        self.prefix = "ag" + secrets.token_hex(3)
        self.db = self.prefix + "d"
        self.made = []

    def machine(self, k):
        return f"{self.prefix}{k}"

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _build(self):
        for ns in (self.db, self.machine(1), self.machine(2)):
            proc = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(f"`ip netns add` fails here: {proc.stderr.strip()}")
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.db, "addr", "add", f"{DB_ADDR}/32", "dev", "lo")
        for k in (1, 2):
            here, there = f"{self.prefix}m{k}", f"{self.prefix}s{k}"  # the machine's end, the server's
            sh("ip", "link", "add", here, "netns", self.machine(k), "type", "veth", "peer", "name", there,
               "netns", self.db)
            sh("ip", "-n", self.db, "addr", "add", f"10.77.{k}.1/30", "dev", there)
            sh("ip", "-n", self.machine(k), "addr", "add", f"10.77.{k}.2/30", "dev", here)
            sh("ip", "-n", self.db, "link", "set", there, "up")
            sh("ip", "-n", self.machine(k), "link", "set", here, "up")
            sh("ip", "-n", self.machine(k), "route", "add", f"{DB_ADDR}/32", "via", f"10.77.{k}.1")

    def __exit__(self, *exc):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made.clear()

    def leftovers(self):
        return [ns for ns in sh("ip", "netns", "list").split() if ns.startswith(self.prefix)]


@contextlib.contextmanager
def database(network):
    """A throwaway PostgreSQL server in the database namespace, listening on TCP at DB_ADDR only
    (and on a Unix socket for the test's own checks), with a database ``course`` that the role
    ``grader`` may open from the machines' subnet with a password. Yields the test's URL."""
    initdb, pg_ctl = _server_programs()
    owner = pwd.getpwnam("postgres")
    folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    folder.chmod(0o700)
    data = folder / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    try:
        sh(*as_postgres, initdb, "-D", data, "-U", "postgres", "--no-sync", "--auth-local=trust",
           "--auth-host=scram-sha-256", timeout=120)
        # the machines reach one database as one role, with a password; nothing else over TCP
        (data / "pg_hba.conf").write_text("local all postgres trust\n"
                                          "host course grader 10.77.0.0/16 scram-sha-256\n")
        sh("nsenter", f"--net=/run/netns/{network.db}", *as_postgres, pg_ctl, "-D", data, "-w",
           "-l", folder / "server.log", "-o",
           f"-k {folder} -p 5432 -c listen_addresses={DB_ADDR} -c fsync=off", "start", timeout=120)
        import psycopg

        with psycopg.connect(host=str(folder), user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f"CREATE ROLE grader LOGIN PASSWORD '{PASSWORD}'")
            conn.execute("CREATE DATABASE course OWNER grader")
        yield f"postgresql://postgres@/course?host={folder}&port=5432", folder
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def machine_folder(root, name):
    """A machine's own folder: its HOME with a ~/.pgpass only its user may read."""
    own = root / name
    (own / "home").mkdir(parents=True)
    pgpass = own / "home" / ".pgpass"
    pgpass.write_text(f"{DB_ADDR}:5432:course:grader:{PASSWORD}\n")
    pgpass.chmod(0o600)  # libpq ignores a password file others may read
    return own


def on_machine(network, k, root, own, submissions, command):
    """``command`` on machine ``k``: in its network namespace, in a private view of the file system
    where only ``own`` is writable, the submissions are read-only and the rest of ``root`` (the other
    machine, the database's folder) does not exist."""
    wrap = ["nsenter", f"--net=/run/netns/{network.machine(k)}",
            "bwrap", "--die-with-parent", "--ro-bind", "/", "/",
            "--bind", "/proc", "/proc",  # not a fresh proc: see the module's docstring
            "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", str(root)]
    # the course and Python, where they live under the folders just hidden (a CI checkout in /tmp)
    for path in sorted({os.path.realpath(p) for p in (course.ROOT, sys.prefix, sys.base_prefix)}):
        if path.startswith(("/tmp/", str(root) + "/")):
            wrap += ["--ro-bind", path, path]
    if os.path.isdir("/sys/fs/cgroup"):
        wrap += ["--bind", "/sys/fs/cgroup", "/sys/fs/cgroup"]  # the grader's memory groups
    wrap += ["--bind", str(own), str(own), "--ro-bind", str(submissions), str(submissions),
             "--setenv", "HOME", str(own / "home"), "--setenv", "TMPDIR", "/tmp",
             "--chdir", str(course.ROOT), "--"]
    return subprocess.Popen(wrap + [str(c) for c in command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=300):
    """(exit status, output) of a command on a machine; one that overruns is killed (bwrap's
    --die-with-parent takes what runs inside with it) and reported with what it printed."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\n(killed after {timeout} s)"
    return proc.returncode, stdout + stderr


def make_class(folder):
    """The class of KINDS, in nbgrader's submitted/ layout."""
    assert {s: 1 if grading.in_shard(s, 1, 2) else 2 for s in KINDS} == SHARD_OF, \
        "the students' split between the shards changed: pick names that give each shard both kinds"
    source = notebooks.read(course.source_notebook(A))
    rel = sample_classes.release_nb(A)
    mistake = catalogue.load(A)[0][0]
    made = {"solution": notebooks.student_submission(source, rel), "release": rel,
            "mistake": notebooks.student_submission(source, rel,
                                                    mutate=[(mistake.cell, mistake.old, mistake.new)])}
    for student, kind in KINDS.items():
        if kind == "nothing":
            (folder / student).mkdir(parents=True)
        else:
            notebooks.write(made[kind], folder / student / A / f"{A}.ipynb")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The class graded by two shards started together on two machines; the network and the
    database stay up for the tests of this module."""
    why = missing_requirements()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("machines")
    subs = root / "submissions"
    make_class(subs)
    with Network() as network, database(network) as (url, db_folder):
        tcp_url = f"postgresql://grader@{DB_ADDR}:5432/course"  # the password is in ~/.pgpass
        own = {k: machine_folder(root, f"machine{k}") for k in (1, 2)}
        start = time.monotonic()
        shards = {k: on_machine(network, k, root, own[k], subs, [
            sys.executable, "-m", "autograder", "grade", subs, "--out", own[k] / "out", "--db", tcp_url,
            "--shard", f"{k}/2", "--assignment", A, "--workers", "1", "--sandbox", "require", "--quiet"])
            for k in (1, 2)}
        results = {k: finish(p) for k, p in shards.items()}
        yield SimpleNamespace(root=root, subs=subs, network=network, url=url, tcp_url=tcp_url,
                              db_folder=db_folder, own=own, results=results,
                              seconds=time.monotonic() - start)
    assert not network.leftovers(), "the network namespaces must be deleted"


def gradebook_scores(url):
    """The students of the gradebook (one per submission) and their (score, automatic score,
    automatic maximum); written answers wait for a grader, so a solution's score is its automatic one."""
    with Gradebook(url) as gb:
        subs = gb.assignment_submissions(A)
        scores = {}
        for s in subs:
            auto = [g for nb in s.notebooks for g in nb.grades if g.cell_type == "code"]
            scores[s.student.id] = (float(s.score), float(sum(g.auto_score or 0 for g in auto)),
                                    float(sum(g.max_score for g in auto)))
        return [s.student.id for s in subs], scores


def test_both_shards_graded_their_part(lab):
    for k, (rc, output) in lab.results.items():
        assert rc == 0, f"shard {k}/2 failed (exit {rc}):\n{output[-3000:]}"
    print(f"both shards graded in {lab.seconds:.0f} s")


def test_one_gradebook_holds_every_student_once_with_the_right_score(lab):
    ids, scores = gradebook_scores(lab.url)
    assert sorted(ids) == sorted(s for s, kind in KINDS.items() if kind != "nothing"), \
        f"every student who handed in must be in the gradebook exactly once, got {ids}"
    full = scores["ann"][2]
    assert full > 0 and scores["ann"] == scores["cat"] == (full, full, full), \
        f"the solutions must get every automatic point: {scores}"
    assert 0 < scores["bob"][1] < full, f"the planted mistake must lose some points: {scores['bob']}"
    assert scores["dan"][:2] == (0, 0), f"the untouched release must get 0: {scores['dan']}"


def test_each_shard_grades_csv_holds_only_its_students(lab):
    _, scores = gradebook_scores(lab.url)
    for k in (1, 2):
        rows = read_csv(lab.own[k] / "out" / "grades.csv")
        assert sorted(rows) == sorted(s for s in KINDS if SHARD_OF[s] == k), \
            f"shard {k}'s grades.csv must hold its own students only, got {sorted(rows)}"
        for student, row in rows.items():
            if KINDS[student] == "nothing":
                assert (row["status"], float(row["score"])) == ("not submitted", 0), row
            else:
                assert (row["status"], float(row["score"])) == ("graded", scores[student][0]), row
        report = (lab.own[k] / "out" / "report.txt").read_text()
        assert "in a bubblewrap sandbox" in report and "control group" in report, \
            f"the student kernels must run in the nested sandbox with a memory group:\n{report[-1500:]}"


_PROBE = textwrap.dedent("""
    import errno, json, os, socket, sys
    import psycopg
    from autograder import judge

    def connect(host, port):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, port))
            return "open"
        except OSError as err:
            return errno.errorcode.get(err.errno, str(err))
        finally:
            s.close()

    def write(path):
        try:
            open(os.path.join(path, "probe"), "w").close()
            return "written"
        except OSError as err:
            return errno.errorcode.get(err.errno, str(err))

    url, db_addr, host_addr, host_port, other, *hidden = sys.argv[1:]
    with psycopg.connect(url) as conn:
        one = conn.execute("SELECT 1").fetchone()[0]
    print(json.dumps({
        "database": one,
        "database, another port": connect(db_addr, 22),
        "the host": connect(host_addr, int(host_port)),
        "the other machine": connect(other, 22),
        "hidden": {p: os.path.exists(p) for p in hidden},
        "submissions": write(hidden[0]),
        "course": write(os.getcwd()),
        "home": write(os.environ["HOME"]),
        "sandbox": judge.sandbox_available(),
    }))
""")


def _host_address():
    """An address of this machine outside the namespaces (its first non-loopback IPv4)."""
    for line in sh("ip", "-4", "-o", "addr", "show").splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127."):
            return addr
    return None


def test_a_machine_reaches_the_database_and_nothing_else(lab):
    import json

    host = _host_address()
    if host is None:
        pytest.skip("this machine has no address besides loopback to try")
    with socket.create_server(("0.0.0.0", 0)) as listener:  # a host service the machines must not see
        port = listener.getsockname()[1]
        socket.create_connection((host, port), timeout=2).close()  # reachable from the host itself
        rc, output = finish(on_machine(lab.network, 1, lab.root, lab.own[1], lab.subs, [
            sys.executable, "-c", _PROBE, lab.tcp_url, DB_ADDR, host, port, "10.77.2.2",
            lab.subs, lab.own[2], lab.db_folder]), timeout=120)
    assert rc == 0, output
    seen = json.loads(output.strip().splitlines()[-1])
    assert seen["database"] == 1, seen
    assert seen["database, another port"] == "ECONNREFUSED", seen
    assert seen["the host"] in ("ENETUNREACH", "EHOSTUNREACH", "ETIMEDOUT"), \
        f"a machine must not reach a service of the host: {seen}"
    assert seen["the other machine"] in ("ENETUNREACH", "EHOSTUNREACH", "ETIMEDOUT"), seen
    assert seen["hidden"] == {str(lab.subs): True, str(lab.own[2]): False, str(lab.db_folder): False}, \
        f"a machine must see the submissions and neither the other machine nor the database: {seen}"
    assert (seen["submissions"], seen["course"], seen["home"]) == ("EROFS", "EROFS", "written"), seen
    assert seen["sandbox"] == "", f"the grader's own sandbox must nest inside the machine's: {seen}"


# what the README tells an instructor to do once every shard has finished (tests the exact lines)
COLLECT = """
set -e
mkdir -p all
for d in shard-*/; do cp -a "$d/." all/; done
awk 'FNR == 1 && NR != 1 {next} 1' shard-*/grades.csv > all/grades.csv
cat shard-*/report.txt > all/report.txt
"""


def test_the_shards_folders_make_one_for_the_whole_class(lab):
    instructor = machine_folder(lab.root, "instructor")
    for k in (1, 2):  # as an instructor copies them off the machines (scp, rsync)
        shutil.copytree(lab.own[k] / "out", instructor / f"shard-{k}", symlinks=True)
    subprocess.run(["bash", "-c", COLLECT], cwd=instructor, check=True, timeout=60)
    rc, output = finish(on_machine(lab.network, 1, lab.root, instructor, lab.subs, [
        sys.executable, "-m", "autograder", "feedback", instructor / "all"]))
    assert rc == 0, f"`feedback` on the collected folder failed:\n{output[-3000:]}"
    handed_in = {s for s, kind in KINDS.items() if kind != "nothing"}
    assert f"{len(handed_in)} feedback page(s) written from the gradebook" in output, output[-3000:]

    _, scores = gradebook_scores(lab.url)
    with open(instructor / "all" / "grades.csv", newline="") as f:
        ids = [r["student_id"] for r in csv.DictReader(f)]
    assert sorted(ids) == sorted(KINDS), f"one row per student in the whole class's grades.csv: {ids}"
    rows = read_csv(instructor / "all" / "grades.csv")
    assert {s: float(r["score"]) for s, r in rows.items()} == {s: scores.get(s, (0, 0))[0] for s in KINDS}
    pages = {p.parent.parent.name for p in (instructor / "all" / "feedback").glob(f"*/{A}/{A}.html")}
    assert pages == handed_in, \
        f"`feedback` must write a page for every student who handed in, from both shards: {pages}"
