"""One submission's grading job, typed once: the limits it runs under and where its files are.

The grader (:mod:`autograder.grading`) builds a :class:`Job`, writes it into the submission's scratch
folder (:meth:`Job.write`) and starts a worker, which reads it back (:meth:`Job.read`). The limits
that the student's kernel enforces travel on as environment variables, written by
:func:`kernel_env` and read by :func:`memory_mb` and :func:`output_bytes`: the one place where each
variable is named and parsed. The command line's defaults are :data:`DEFAULT_LIMITS`'s.
"""

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

# this module is imported by the student's kernel (autograder.kernel): standard library only
MB = 1_000_000  # a megabyte of files: 10^6 bytes

MIN_MEMORY_MB = 512  # a kernel with NumPy and PyTorch loaded holds ~400 MB before any work


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is graded."""

    cell_timeout: int = 60  # seconds per cell (nbgrader's Execute.timeout)
    memory_mb: int = 2048  # memory the student's kernel may allocate (RLIMIT_DATA); 0 for none
    output_bytes: int = 1_000_000  # characters the notebook may print in all; 0 for no limit
    # what one submission may bring into the output folder: MB in all (also the largest file it
    # may write while graded, and the largest notebook read), and MB per file other than the
    # grader's own products (the graded notebook, its feedback page); 0 for no limit
    disk_mb: int = 50
    file_mb: int = 20

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"the limit {f.name} must be a whole number, got {value!r}")
        if self.cell_timeout <= 0:
            raise ValueError(f"the cell time limit must be positive, got {self.cell_timeout} s")
        if self.memory_mb and self.memory_mb < MIN_MEMORY_MB:
            raise ValueError(
                f"a memory limit of {self.memory_mb} MB is too low: a kernel that has loaded NumPy "
                f"and PyTorch holds about 400 MB before the student's code runs, so every notebook "
                f"would crash. Use --memory {MIN_MEMORY_MB} or more (default "
                f"{Limits.memory_mb}), or 0 for none")
        if self.output_bytes < 0:
            raise ValueError(f"the output limit must be 0 (none) or positive, got {self.output_bytes}")
        if self.disk_mb < 0 or self.file_mb < 0:
            raise ValueError(f"the file limits must be 0 (none) or positive, got {self.disk_mb} MB "
                             f"in all and {self.file_mb} MB per file")

    @property
    def disk_bytes(self):
        return self.disk_mb * MB

    @property
    def file_bytes(self):
        return self.file_mb * MB


DEFAULT_LIMITS = Limits()

# the student's kernel reads its limits from these (the worker sets them, the judge and
# autograder.kernel read them)
MEMORY_VAR = "AUTOGRADER_MEMORY_MB"
OUTPUT_VAR = "AUTOGRADER_OUTPUT_BYTES"


def kernel_env(limits):
    """The environment variables that carry ``limits`` to the student's kernel ("" for none)."""
    return {MEMORY_VAR: str(limits.memory_mb or ""), OUTPUT_VAR: str(limits.output_bytes or "")}


def memory_mb(env=None):
    """The kernel's memory limit in MB from its environment; 0 for none."""
    return int((os.environ if env is None else env).get(MEMORY_VAR) or 0)


def output_bytes(env=None):
    """What the notebook may print in all, from the kernel's environment; 0 for no limit."""
    return int((os.environ if env is None else env).get(OUTPUT_VAR) or 0)


@dataclass(frozen=True)
class Job:
    """What a worker needs to grade one submission in its scratch course folder."""

    scratch: Path  # the scratch nbgrader course: gradebook.db, submitted/<student>/<assignment>/
    student_id: str
    assignment: str
    limits: Limits = DEFAULT_LIMITS
    release: Path | None = None  # the release notebook the integrity scan compares with
    unreadable: tuple = ()  # folders the student's code may not read
    mplconfig: Path | None = None  # matplotlib's font cache, shared by the run's kernels
    feedback: bool = True  # write the feedback page (the self-check reads scores only)
    sandbox: str | None = None  # auto | require | off; None: AUTOGRADER_SANDBOX or auto
    # the worker slot's zygote, which forks the student's kernel in its sandbox (autograder/zygote.py):
    # {"socket": path, "pid": the sandbox's PID, "slot": the folder it sees}; None: a new interpreter
    zygote: dict | None = None

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalise the types once, here
        set_(self, "scratch", Path(self.scratch))
        set_(self, "release", Path(self.release) if self.release else None)
        set_(self, "unreadable", tuple(Path(p) for p in self.unreadable))
        set_(self, "mplconfig", Path(self.mplconfig) if self.mplconfig else None)
        if isinstance(self.limits, dict):
            set_(self, "limits", Limits(**self.limits))

    def to_json(self):
        data = asdict(self)
        for key in ("scratch", "release", "mplconfig"):
            data[key] = None if data[key] is None else str(data[key])
        data["unreadable"] = [str(p) for p in self.unreadable]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"a grading job with unknown fields {sorted(unknown)}: written by "
                             "another version of the grader?")
        return cls(**data)

    def write(self, path):
        Path(path).write_text(self.to_json())

    @classmethod
    def read(cls, path):
        return cls.from_json(Path(path).read_text())
