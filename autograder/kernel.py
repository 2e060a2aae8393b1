"""The kernel that runs a student's notebook during grading: ipykernel, started under limits.

The worker installs a ``python3`` kernelspec in its scratch folder (found first through
``JUPYTER_PATH``) whose command is ``python -m autograder.kernel -f {connection_file}``, so the
limits below apply to the student's code and not to the grader:

- ``AUTOGRADER_MEMORY_MB``: the kernel's address space; an allocation past it raises
  ``MemoryError`` in the student's cell, and the grader lives on.
"""

import os
import sys


def apply_limits():
    memory_mb = int(os.environ.get("AUTOGRADER_MEMORY_MB") or 0)
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main():
    apply_limits()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=sys.argv[1:])


if __name__ == "__main__":
    main()
