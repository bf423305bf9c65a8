"""Read documented outputs: the printouts of MXNet (``nd`` and ``np``), PyTorch and Python.

Each parser turns the text the book prints into plain Python values (nested lists of
numbers, tuples of ints, booleans), so a case's expectation comes from the documented text
itself, not from a number typed again by hand.
"""

from __future__ import annotations

import ast
import re

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+|inf|nan)"


def normalise(text: str) -> str:
    """Whitespace-insensitive form of a printout (runs of whitespace become one space)."""
    return re.sub(r"\s+", " ", text).strip()


def _literal(body: str):
    """Nested lists from a NumPy-style body whose numbers may be separated by spaces."""
    body = body.strip()
    # a number followed by whitespace and another number or bracket: insert a comma
    body = re.sub(rf"({_NUMBER}|\])\s+(?=[-+\d.\[]|inf|nan)", r"\1, ", body)
    body = re.sub(r"(\d)\.(?=[,\]\s])", r"\1.0", body)
    return ast.literal_eval(body)


def ndarray(text: str):
    """``[[19. 25.]\\n[37. 43.]]\\n<NDArray 2x2 @cpu(0)>`` (MXNet ``nd``) -> nested lists."""
    body = re.sub(r"<NDArray [^>]*>", "", text)
    return _literal(body)


def nd_tuple(text: str):
    """A printed tuple of ``nd`` arrays, ``(\\n[...]\\n<NDArray ...>,\\n[...]<NDArray ...>)``."""
    inner = text.strip()
    assert inner.startswith("(") and inner.endswith(")"), text
    parts = re.split(r"<NDArray [^>]*>,?", inner[1:-1])
    return tuple(_literal(p) for p in parts if p.strip())


def np_array(text: str):
    """``array([[19., 25.],\\n[37., 43.]])`` (MXNet ``np``, NumPy) -> nested lists."""
    m = re.fullmatch(r"\s*array\((.*?)(?:,\s*dtype=\w+)?\)\s*", text, re.S)
    assert m, text
    return _literal(m.group(1))


def tensor(text: str):
    """``tensor([[19., 25.],\\n[37., 43.]])`` (PyTorch) -> nested lists."""
    m = re.fullmatch(r"\s*tensor\((.*?)(?:,\s*(?:dtype|grad_fn|device)=.*)?\)\s*", text, re.S)
    assert m, text
    return _literal(m.group(1))


def plain(text: str):
    """``[[[[ 0.  1.  2.  3.]\\n...]]]]`` as ``print`` shows an array -> nested lists."""
    return _literal(text)


def shape(text: str) -> tuple[int, ...]:
    """``(8, 8)``, ``torch.Size([8, 8])`` or ``shape : (1, 2, 4, 4)`` -> a tuple of ints."""
    m = re.search(r"torch\.Size\(\[([\d,\s]*)\]\)", text)
    if m:
        return tuple(int(v) for v in m.group(1).split(",") if v.strip())
    m = re.search(r"\(([\d,\s]*)\)", text)
    assert m, text
    return tuple(int(v) for v in m.group(1).split(",") if v.strip())


def boolean(text: str) -> bool:
    value = ast.literal_eval(text.strip())
    assert isinstance(value, bool), text
    return value


def bmatrix(text: str):
    """A LaTeX matrix, ``\\begin{bmatrix} 0 & 1\\\\ 2 & 3 \\end{bmatrix}`` (the
    ``\\begin``/``\\end`` lines optional) -> nested lists of floats: rows end at ``\\\\``,
    entries are separated by ``&``."""
    body = re.sub(r"\\(?:begin|end)\{bmatrix\}", "", text)
    rows = [r for r in re.split(r"\\\\", body) if r.strip()]
    return [[float(v) for v in r.split("&")] for r in rows]


def loss_log(text: str) -> dict[int, tuple[float, int]]:
    """``batch 1, loss 12.495`` / ``Epoch 5, loss 0.743`` lines -> {iteration: (loss,
    printed decimals)}."""
    out = {}
    for m in re.finditer(r"(?:batch|epoch)\s+(\d+),\s*loss\s+(-?\d+\.(\d+))", text, re.I):
        out[int(m.group(1))] = (float(m.group(2)), len(m.group(3)))
    assert out, text
    return out


def flat_numbers(text: str) -> tuple[tuple[float, ...], int]:
    """All numbers of a printed array, flattened, and the decimals they are printed with."""
    body = re.sub(r"<NDArray [^>]*>|tensor|array|dtype=\w+", "", text)
    found = re.findall(r"-?\d+\.(\d*)", body)
    values = tuple(float(v) for v in re.findall(r"-?\d+\.\d*", body))
    return values, max(len(d) for d in found)


def summary(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """``layer_summary`` lines (``Conv2d output shape:\t torch.Size([1, 6, 28, 28])``, or
    the shape as a tuple) -> [(layer name, shape)]."""
    rows = []
    for line in text.strip().splitlines():
        if line.strip():
            name, _, rest = line.partition(" output shape:")
            rows.append((name.strip(), shape(rest)))
    return rows
