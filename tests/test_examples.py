"""``portconv examples``: every example runs on the backend under test (in process, through
the command's ``main``) and prints the book's figures; ``list`` and ``--compare`` work."""

from __future__ import annotations

import re

import pytest

from portconv import examples
from portconv.cli import main

#: a few lines (whitespace-normalised) each example must print: the book's figures
EXPECTED = {
    "edge-detection": ["[ 0. 1. 0. 0. 0. -1. 0.]", "[0. 0. 0. 0. 0.]"],
    "learning-a-kernel": [  # the MXNet edition's log (5.2.4), line for line
        "batch 1, loss 12.495",
        "batch 2, loss 5.132",
        "batch 5, loss 0.360",
        "batch 10, loss 0.005",
        "[[ 0.9917276 -0.9848021]]",
    ],
    "padding-and-stride": ["(8, 8)\n(8, 8)\n(4, 4)\n(2, 2)"],
    "channels": ["[[ 56. 72.] [104. 120.]]", "(3, 2, 2, 2)", "[192. 224.]]]", "True"],
    "pooling": [
        "[[4. 5.] [7. 8.]]",
        "[[2. 3.] [5. 6.]]",
        "[[[[10.]]]]",
        "[[[[ 0. 3.] [ 8. 11.] [12. 15.]]]]",
        "[[ 6. 8.] [14. 16.]]]]",
    ],
    "lenet": ["Conv2d output shape:", "AvgPool2d output shape:", "Linear output shape:"],
    "vgg": ["Sequential output shape: (1, 512, 7, 7)", "Linear output shape: (1, 10)"],
    "resnet": ["Sequential output shape:"],
}
SHAPES = {  # the last shape each summary prints, whatever the backend's shape type
    "lenet": (1, 10),
    "resnet": (1, 10),
}


def _norm(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).replace("\n ", " ")


def test_every_example_has_expectations():
    assert set(EXPECTED) == set(examples.EXAMPLES)


@pytest.mark.parametrize("name", list(examples.EXAMPLES))
def test_example_runs_on_backend(be, name, capsys):
    assert main(["examples", "run", name, "--backend", be.name]) == 0
    out = capsys.readouterr().out
    text = _norm(out)
    for want in EXPECTED[name]:
        assert _norm(want) in text, f"{name} on {be.name}: {want!r} not in\n{out}"
    if name in SHAPES:
        last = out.strip().splitlines()[-1]
        assert tuple(int(n) for n in re.findall(r"\d+", last.split(":")[1])) == SHAPES[name]
    if name == "resnet":
        assert "(1, 512, 3, 3)" in out or "[1, 512, 3, 3]" in out


def test_list(capsys):
    assert main(["examples", "list"]) == 0
    out = capsys.readouterr().out
    for name in examples.EXAMPLES:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M)


def test_compare_with_numpy(be, capsys):
    rc = main(
        ["examples", "run", "learning-a-kernel", "--compare", f"numpy,{be.name},no-such-backend"]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "no-such-backend: unavailable:" in out
    assert "[numpy]" in out
    if be.name != "numpy":
        assert f"[{be.name}]" in out
        line = out.strip().splitlines()[-1]
        assert line.startswith(f"largest difference (numpy, {be.name}): ")
        assert float(line.rsplit(" ", 1)[1]) < 1e-5
    assert out.count("batch 10, loss 0.005") == (1 if be.name == "numpy" else 2)


def test_compare_reports_differences():
    outputs, problems, diff = examples.compare("pooling", ["numpy"])
    assert diff is None and not problems and list(outputs) == ["numpy"]  # one: nothing to compare
    assert examples._numbers("batch 2, loss 5.132 [[ 1e-3 -2.]]") == [2, 5.132, 1e-3, -2]


def test_unknown_example_and_backend(capsys):
    assert main(["examples", "run", "no-such-example"]) == 2
    assert "expected one of" in capsys.readouterr().err
    assert main(["examples", "run", "pooling", "--backend", "no-such-backend"]) == 2
    assert "--backend no-such-backend" in capsys.readouterr().err
