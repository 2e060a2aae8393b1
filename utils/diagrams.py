"""Drawing primitives for the course's diagrams: cells, gates, unrolled networks.

The lecture notes' figures were lost, so every diagram of the course is drawn by code, offline, in
one style. A notebook's own figures (an LSTM cell, a stacked RNN) are functions of its topic
module built from these pieces; each returns the matplotlib ``Figure`` so tests can check it.

Coordinates are data units on an axis without ticks, with equal aspect: ``box(ax, (2, 1), "tanh")``
puts a box centred at x=2, y=1.

>>> fig, ax = canvas(6, 3)
>>> a = box(ax, (1, 1), "$W_{xh} x_t$")
>>> b = node(ax, (3, 1), "+")
>>> arrow(ax, (1.6, 1), (2.75, 1))
"""

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .plotting import COLORS

#: Fill colours of the kinds of element a diagram shows, the same in every diagram.
FILLS = {
    "gate": "#fde0c5",       # a sigmoid gate (i, f, o, r, z)
    "layer": "#d6e6f5",      # a weighted layer with tanh (candidate, Elman step)
    "op": "#ffffff",         # an element-wise operation (⊙, +, 1−)
    "state": "#e8f4e0",      # a state carried in time (h_t, c_t)
    "input": "#eeeeee",      # an input or output
}


def canvas(width, height, size=1.0):
    """A blank figure ``width`` × ``height`` data units, ``size`` inches per unit; returns (fig, ax)."""
    fig, ax = plt.subplots(figsize=(width * size, height * size))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, center, text, width=1.1, height=0.55, kind="layer", fontsize=10, **kwargs):
    """A rounded box centred at ``center`` holding ``text``; returns the patch."""
    x, y = center
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                           boxstyle="round,pad=0.02,rounding_size=0.08", linewidth=1.2,
                           edgecolor="#333333", facecolor=FILLS.get(kind, kind), zorder=3, **kwargs)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)
    return patch


def node(ax, center, text, radius=0.22, kind="op", fontsize=11):
    """A circle (an element-wise operation such as ⊙, + or tanh) centred at ``center``."""
    patch = Circle(center, radius, linewidth=1.2, edgecolor="#333333",
                   facecolor=FILLS.get(kind, kind), zorder=3)
    ax.add_patch(patch)
    ax.text(*center, text, ha="center", va="center", fontsize=fontsize, zorder=4)
    return patch


def arrow(ax, start, end, text=None, color="#333333", width=1.3, curve=0.0, text_offset=(0, 0.15),
          style="-|>", linestyle="-", fontsize=9):
    """An arrow from ``start`` to ``end`` (points), optionally curved and labelled at its middle."""
    patch = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color,
                            linewidth=width, linestyle=linestyle, zorder=2,
                            connectionstyle=f"arc3,rad={curve}", shrinkA=0, shrinkB=0)
    ax.add_patch(patch)
    if text:
        mx, my = (start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=fontsize, color=color, zorder=4)
    return patch


def path(ax, points, color="#333333", width=1.3, arrow_at_end=True, linestyle="-"):
    """A polyline through ``points`` (a wire with corners), with an arrow head at the end."""
    xs, ys = zip(*points, strict=True)
    ax.plot(xs[:-1] + (xs[-1],), ys[:-1] + (ys[-1],), color=color, linewidth=width,
            linestyle=linestyle, zorder=2, solid_capstyle="round")
    if arrow_at_end and len(points) >= 2:
        arrow(ax, points[-2], points[-1], color=color, width=width)


def label(ax, at, text, fontsize=10, color="#333333", **kwargs):
    """Text at a point (a symbol such as $h_{t-1}$ at the end of a wire)."""
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    return ax.text(*at, text, fontsize=fontsize, color=color, zorder=4, **kwargs)


def legend(ax, at, kinds=("gate", "layer", "op")):
    """A small key of the fills used, starting at ``at`` and going right."""
    names = {"gate": "gate (σ)", "layer": "layer (tanh)", "op": "element-wise", "state": "state",
             "input": "input / output"}
    x, y = at
    for kind in kinds:
        box(ax, (x, y), "", width=0.3, height=0.2, kind=kind)
        label(ax, (x + 0.22, y), names[kind], fontsize=8, ha="left")
        x += 1.6
    return ax


__all__ = ["COLORS", "FILLS", "arrow", "box", "canvas", "label", "legend", "node", "path"]
