"""Live training curves: the book's ``Animator`` as a :func:`portconv.train.fit` callback.

``fit(model, data, epochs=10, lr=0.1, callback=Animator())`` draws, after every epoch, the
training loss and accuracy during each epoch and the test accuracy at its end, against
epochs, as the book's ``d2l.Animator`` does in ``train_ch6``. In Jupyter the plot is one
output that is updated in place; elsewhere (a script, a terminal, a test) it is written to
a PNG file after every epoch, so the file always shows the curves so far.

Needs matplotlib (``pip install "portconv[plot]"``). The figure is drawn without pyplot, so
using the Animator never changes the notebook's or the program's matplotlib backend.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ArgumentError, ArrayTypeError, describe_type

__all__ = ["Animator"]

_INSTALL = 'the Animator needs matplotlib: pip install "portconv[plot]" (or matplotlib)'


def _jupyter() -> tuple[Callable[..., Any], type] | None:
    """IPython's ``display`` and ``Image`` when this runs in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # a terminal IPython draws no images
        return None
    from IPython.display import Image, display

    return display, Image


class Animator:
    """Draw training curves after every epoch of :func:`portconv.train.fit`.

    Pass an instance as ``fit``'s ``callback``: it is called with each epoch's statistics
    and redraws the training loss and training accuracy (the running values
    :func:`~portconv.train.fit` records a few times per epoch) and the test accuracy (at
    the end of each epoch), like the book's ``d2l.Animator`` in ``train_ch6``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A PNG file written (atomically) after every epoch. Default: ``"training.png"`` in
        the working directory when not in Jupyter, no file in Jupyter.
    epochs : int, optional
        The number of epochs the run will have, to fix the x axis from the start (as the
        book's ``xlim=[1, num_epochs]``). Default: the axis grows with the run.
    title : str, optional
        A title above the plot.
    interactive : bool, optional
        True: show the plot as a Jupyter output updated in place (an error outside a
        Jupyter kernel); False: only write ``path``. Default: True inside a Jupyter kernel.
    figsize : tuple of float, default (4.5, 3.5)
        The figure's size in inches (100 dots per inch).

    Attributes
    ----------
    history : list of dict
        The statistics of every epoch drawn so far, as ``fit`` passed them.

    Raises
    ------
    ImportError
        matplotlib is not installed (the message says how to install it).
    ArgumentError
        ``epochs`` is not a positive int, ``figsize`` not two positive numbers, or
        ``interactive=True`` outside a Jupyter kernel.
    ArrayTypeError
        ``path`` is not a path.

    See Also
    --------
    portconv.train.fit : the training loop that calls it.
    portconv.train.plot_history : the same curves from a finished run's history.

    Examples
    --------
    >>> import os, tempfile
    >>> from portconv import data, models, train
    >>> from portconv.plot import Animator
    >>> png = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> animator = Animator(png, epochs=2, interactive=False)
    >>> splits = data.make_synthetic(64, 32, seed=0)
    >>> history = train.fit(models.LeNetModern(), splits, epochs=2, lr=0.1, batch_size=32,
    ...                     callback=animator)
    >>> len(animator.history), os.path.getsize(png) > 0
    (2, True)
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        epochs: int | None = None,
        title: str | None = None,
        interactive: bool | None = None,
        figsize: Sequence[float] = (4.5, 3.5),
    ) -> None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(_INSTALL) from None
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ArrayTypeError(
                f"path: expected a file path (str or os.PathLike), got {describe_type(path)}"
            )
        if epochs is not None and (
            isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
        ):
            raise ArgumentError(f"epochs: expected a positive int or None, got {epochs!r}")
        try:
            width, height = (float(v) for v in figsize)
        except (TypeError, ValueError):
            width = height = -1.0
        if not (width > 0 and height > 0 and math.isfinite(width * height)):
            raise ArgumentError(f"figsize: expected two positive numbers, got {figsize!r}")
        jupyter = _jupyter()
        if interactive is None:
            interactive = jupyter is not None
        elif interactive and jupyter is None:
            raise ArgumentError(
                "interactive: True needs a Jupyter kernel (IPython with a kernel); outside "
                "one, leave it None or False and the curves are written to path"
            )
        self._jupyter = jupyter if interactive else None
        if path is None and self._jupyter is None:
            path = "training.png"
        self.path = None if path is None else os.fspath(path)
        self.epochs = epochs
        self.title = title
        self.figsize = (width, height)
        self.history: list[dict] = []
        self._handle: Any = None

    @property
    def interactive(self) -> bool:
        """Whether the curves are shown as a Jupyter output."""
        return self._jupyter is not None

    def __call__(self, stats: Mapping[str, Any]) -> None:
        """Add one epoch's statistics (``fit``'s callback) and redraw.

        Parameters
        ----------
        stats : mapping
            ``epoch`` (1-based), ``loss`` and ``train_acc``; optionally ``test_acc`` (None
            without test data) and ``points``, the running ``[epoch, loss, acc]`` values.

        Raises
        ------
        ArgumentError
            ``stats`` lacks ``epoch``, ``loss`` or ``train_acc``.
        """
        if not isinstance(stats, Mapping):
            raise ArrayTypeError(
                f"stats: expected a mapping of one epoch's statistics, got {describe_type(stats)}"
            )
        missing = [k for k in ("epoch", "loss", "train_acc") if k not in stats]
        if missing:
            raise ArgumentError(
                f"stats: missing {', '.join(missing)} (got keys {sorted(stats)}); pass the "
                "Animator as train.fit's callback, which calls it with each epoch's statistics"
            )
        self.history.append(dict(stats))
        self.draw()

    def figure(self) -> Any:
        """The curves so far as a :class:`matplotlib.figure.Figure` (not managed by pyplot).

        Returns
        -------
        matplotlib.figure.Figure
            Training loss (solid), training accuracy (dashed) and test accuracy
            (dash-dotted) against epochs, with a legend and a grid.
        """
        from matplotlib.figure import Figure

        xs, losses, accs = [], [], []
        for row in self.history:
            points = row.get("points") or [[row["epoch"], row["loss"], row["train_acc"]]]
            for x, loss_value, acc in points:
                xs.append(x)
                losses.append(loss_value)
                accs.append(acc)
        tests = [(r["epoch"], r["test_acc"]) for r in self.history if r.get("test_acc") is not None]
        fig = Figure(figsize=self.figsize, dpi=100)
        ax = fig.add_subplot()
        ax.plot(xs, losses, "-", label="train loss")
        ax.plot(xs, accs, "m--", label="train acc")
        if tests:
            ax.plot([t[0] for t in tests], [t[1] for t in tests], "g-.", label="test acc")
        last = max((r["epoch"] for r in self.history), default=1)
        ax.set_xlim(0, max(self.epochs or 0, last))
        ax.set_xlabel("epoch")
        ax.grid(True)
        ax.legend()
        if self.title:
            ax.set_title(self.title)
        fig.tight_layout()
        return fig

    def png(self) -> bytes:
        """The curves so far as PNG bytes."""
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png")
        return buffer.getvalue()

    def draw(self) -> None:
        """Redraw: update the Jupyter output in place and/or rewrite the PNG file."""
        data = self.png()
        if self.path is not None:
            tmp = f"{self.path}.tmp{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)  # a reader never sees half a file
        if self._jupyter is not None:
            display, image = self._jupyter
            if self._handle is None:
                self._handle = display(image(data=data), display_id=True)
            else:
                self._handle.update(image(data=data))
