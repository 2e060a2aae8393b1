"""nbgrader without its three-second ``alembic heads`` subprocess for every new gradebook.

A new nbgrader gradebook is stamped with the head of nbgrader's database migrations, which
``nbgrader.api.get_alembic_version`` finds by running the ``alembic heads`` command in a new process:
about three seconds (starting Python, importing alembic), paid by every release and every grading
run, most of what releasing a notebook costs. :func:`alembic_head` reads the same head from the same
migration scripts with alembic's own API, in this process, once (tests/test_release_cache.py
checks that the two agree). ``python -m autograder.nbgrader_fast ARGS`` is ``nbgrader ARGS`` with
that change.
"""

import functools
import os

import nbgrader.api

NBGRADER_OWN = nbgrader.api.get_alembic_version  # the subprocess, kept for the test


@functools.cache
def alembic_head():
    from alembic.script import ScriptDirectory

    scripts = os.path.join(os.path.dirname(nbgrader.api.__file__), "alembic")
    return ScriptDirectory(scripts).get_current_head()


def install():
    nbgrader.api.get_alembic_version = alembic_head


if __name__ == "__main__":
    install()
    from nbgrader.apps.nbgraderapp import main

    main()
