"""nbgrader configuration of the course; the course root is the repository root.

The nbgrader *source* of each assignment is the complete notebook in ``solutions/`` and the
*release* that students get is generated into ``notebooks/``:

    solutions/01_one_hot/01_one_hot.ipynb  --generate_assignment-->  notebooks/01_one_hot/01_one_hot.ipynb
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# the mistake catalogue beside each source notebook is for the test suite, never for students
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "mistakes.toml",
    "*.pct.py",  # the notebook as reviewable text, solutions included (autograder/sources.py)
]

# A cell that runs longer than this is stopped and its tests score 0 (the grader passes its own
# --timeout down to this setting; the default is the grader's, autograder/job.py).
c.Execute.timeout = __import__("autograder.job").job.DEFAULT_LIMITS.cell_timeout
# nbgrader gives 0 to a test cell that writes to stderr. The course silences warnings at their
# source (utils sets the filters); this pattern drops the ones that can still come from libraries.
c.IgnorePattern.pattern = r"(Warning|warn\(|WARNING|UserWarning|DeprecationWarning)"
c.IgnorePattern.enabled = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Links and special files (named pipes, sockets, device files) that a notebook leaves in its working
# folder are removed, and recorded for the grader's report, as soon as it has run: nbgrader then
# walks that folder and chmods every entry, which follows a link and fails on a loop.
c.Autograde.autograde_preprocessors.append("autograder.safefiles.RemoveLeftovers")

# Feedback pages: a written answer not yet graded by hand reads "to be graded by hand", not "0.0 / 3.0"
# (autograder/templates/feedback: nbgrader's template with that one change).
__import__("autograder.feedback").feedback.feedback_config(c)
