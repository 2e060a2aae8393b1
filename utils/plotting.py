"""One plotting style for the course, so that every figure reads the same way."""

import matplotlib

# The grader and CI have no display; a notebook in JupyterLab keeps its inline backend.
if matplotlib.get_backend().lower() not in {"module://matplotlib_inline.backend_inline", "inline"}:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

#: Colour of each recurring role, the same in every notebook.
COLORS = {
    "rnn": "#1f77b4",
    "lstm": "#d62728",
    "gru": "#2ca02c",
    "reference": "#7f7f7f",
    "student": "#ff7f0e",
    "bound": "#9467bd",
}


def use_course_style():
    """Apply the course's matplotlib style (call once, at the top of a notebook)."""
    plt.rcParams.update({
        "figure.figsize": (7.0, 3.6),
        "figure.dpi": 90,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
    })


def subplots(ncols=1, nrows=1, width=None, height=None, **kwargs):
    """``plt.subplots`` with the course's figure size scaled to the grid; returns ``(fig, axes)``."""
    width = width or 4.2 * ncols + 0.6
    height = height or 3.4 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
    return fig, axes


def finish(fig, title=None):
    """Title, tight layout, show: the last line of every plotting cell."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
