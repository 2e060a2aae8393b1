"""What a student's kernel may inherit from the account that grades: what running Python needs, no secrets.

An instructor grades with secrets at hand: a database password in ``PGPASSWORD`` or in the URL of
``--db`` kept in a variable, cloud keys, a Jupyter token, and files such as ``~/.pgpass``,
``~/.ssh`` or ``~/.netrc``. The student's code runs in a kernel started by the judge, and whatever
that kernel inherits can be printed into its own feedback page. So:

- its environment is built from a list of what a Python kernel needs (:func:`kernel_environment`),
  never by copying the grader's;
- the usual credential files of the grading account are unreadable to it, under the guard as in the
  sandbox (:func:`credential_paths`), and in the sandbox the account's whole home folder is replaced
  by an empty one, but for what Python and the course need from it (:func:`homes`).
"""

import os
import pwd

#: variables a kernel needs, by exact name
NEEDED = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME", "SHELL",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH",
    "PYTHONPATH", "PYTHONHOME", "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONUTF8",
    "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_PLATFORM_DIRS",
    "IPYTHONDIR", "MPLBACKEND", "MPLCONFIGDIR",
    "HOME", "TMPDIR", "XDG_CACHE_HOME", "AUTOGRADER_DEBUG",
})
#: families of variables a kernel needs: locale, GPU, thread pools, conda, PyTorch, nbgrader's mode
NEEDED_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "CONDA_",
                   "TORCH_", "TORCHINDUCTOR_", "PYTORCH_", "TRITON_", "NBGRADER_")

#: where the usual credentials live, relative to a home folder
CREDENTIAL_FILES = (".pgpass", ".pg_service.conf", ".my.cnf", ".netrc", ".git-credentials", ".pypirc",
                    ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube", ".docker",
                    ".jupyter", ".local/share/jupyter/runtime")
#: variables that name a credential file elsewhere
CREDENTIAL_FILE_VARIABLES = ("PGPASSFILE", "PGSERVICEFILE", "NETRC", "GOOGLE_APPLICATION_CREDENTIALS",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "KUBECONFIG",
                             "DOCKER_CONFIG", "JUPYTER_RUNTIME_DIR")


def kernel_environment(environ):
    """The part of ``environ`` a student's kernel may see: :data:`NEEDED` and :data:`NEEDED_PREFIXES`."""
    return {k: v for k, v in environ.items() if k in NEEDED or k.startswith(NEEDED_PREFIXES)}


def homes(environ=os.environ):
    """The grading account's home folders: ``$HOME`` and the password database's, when they exist."""
    found = [environ.get("HOME", "")]
    try:
        found.append(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        pass
    return sorted({os.path.realpath(h) for h in found if h and h != "/" and os.path.isdir(h)})


def credential_paths(environ=os.environ):
    """The credential files and folders of the grading account that exist (see the module's text)."""
    paths = [os.path.join(h, name) for h in homes(environ) for name in CREDENTIAL_FILES]
    paths += [environ[v] for v in CREDENTIAL_FILE_VARIABLES if environ.get(v)]
    return sorted({os.path.realpath(p) for p in paths if os.path.lexists(p)})
