"""The conformance suite itself: every case quotes its seed, case ids are unique, the parsers
read the printouts they are for, and the whole registry passes on the backend under test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # conformance/ is not installed: it lives in the checkout
    sys.path.append(str(ROOT))

from conformance import _parse  # noqa: E402
from conformance._registry import SEED_FRAMEWORK, case  # noqa: E402
from conformance.run import Book, load_cases, run_case  # noqa: E402

SEEDS = Path(__file__).parents[2] / "shared" / "seeds"
CASES = load_cases()


# -- every case quotes its seed -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    if not SEEDS.is_dir():
        pytest.skip("the seed files are not beside this checkout")
    return {name: _parse.normalise((SEEDS / name).read_text()) for name in SEED_FRAMEWORK}


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_documented_text_is_quoted_from_the_seed(c, seed_texts):
    assert _parse.normalise(c.documented) in seed_texts[c.seed], (
        f"{c.id}: the documented text does not appear in {c.seed} (after whitespace "
        f"normalisation): {c.documented!r}"
    )


# -- the registry ---------------------------------------------------------------------------------


def test_case_ids_are_unique_and_name_known_seeds():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for c in CASES:
        assert c.seed in SEED_FRAMEWORK, c.id
        assert c.id.startswith(c.seed[:3] + ":"), c.id
        assert c.printed in (None, "repr", "str"), c.id
        assert c.rule in ("exact", "close"), c.id
        assert c.documented.strip(), c.id
    assert {c.seed for c in CASES} == set(SEED_FRAMEWORK), "every seed has cases"


def test_case_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown seed"):
        case("999_none.txt", "Out[1]", "t", "1")
    with pytest.raises(ValueError, match="exactly one of"):
        case("002_2b99741476205a97.txt", "Out[1]", "t", "1")
    with pytest.raises(ValueError, match="printed"):
        case("002_2b99741476205a97.txt", "Out[1]", "t", "1", expected=1, printed="html")
    # printed=False means not printed (registering nothing: the decorator is not applied)
    assert callable(case("002_2b99741476205a97.txt", "Out[1]", "t", "1", expected=1))
    assert callable(case("002_2b99741476205a97.txt", "Out[1]", "t", "1", expected=1, printed=False))


# -- the parsers ----------------------------------------------------------------------------------


def test_normalise():
    assert _parse.normalise("  tensor([[1., 2.],\n        [3., 4.]])\n") == (
        "tensor([[1., 2.], [3., 4.]])"
    )


def test_parse_mxnet_nd():
    assert _parse.ndarray("\n[[19. 25.]\n [37. 43.]]\n<NDArray 2x2 @cpu(0)>") == [
        [19.0, 25.0],
        [37.0, 43.0],
    ]
    text = "(\n[1. 2.]\n<NDArray 2 @cpu(0)>,\n[[-3.]]\n<NDArray 1x1 @cpu(0)>)"
    assert _parse.nd_tuple(text) == ([1.0, 2.0], [[-3.0]])


def test_parse_numpy_style_and_plain():
    assert _parse.np_array("array([[19., 25.],\n       [37., 43.]])") == [
        [19.0, 25.0],
        [37.0, 43.0],
    ]
    assert _parse.np_array("array([1, 2], dtype=int64)") == [1, 2]
    assert _parse.plain("[[[[ 0.  1.]\n   [ 2. -3.]]]]") == [[[[0.0, 1.0], [2.0, -3.0]]]]


def test_parse_torch():
    assert _parse.tensor("tensor([[ 0.,  1., -1.],\n        [ 2.5000, 3.,  0.]])") == [
        [0.0, 1.0, -1.0],
        [2.5, 3.0, 0.0],
    ]
    assert _parse.tensor("tensor([4])") == [4]
    assert _parse.tensor("tensor([[ 0.9805, -1.0036]])") == [[0.9805, -1.0036]]
    assert _parse.tensor("tensor([1., 2.], grad_fn=<AddBackward0>)") == [1.0, 2.0]
    assert _parse.tensor("tensor([1, 2], dtype=torch.int32)") == [1, 2]
    with pytest.raises(SyntaxError):  # an unbalanced printout (002 Out[31]) does not parse
        _parse.tensor("tensor([[[[10.]]]]])")


def test_parse_shapes_and_booleans():
    assert _parse.shape("(8, 8)") == (8, 8)
    assert _parse.shape("torch.Size([1, 6, 28, 28])") == (1, 6, 28, 28)
    assert _parse.shape("shape : (1, 2, 4, 4)") == (1, 2, 4, 4)
    assert _parse.shape("torch.Size([])") == ()
    assert _parse.boolean("True") is True
    assert _parse.boolean(" False\n") is False
    with pytest.raises(AssertionError):
        _parse.boolean("1")


def test_parse_latex_matrix():
    text = "\\begin{bmatrix}\n0 & 3 & 8\\\\\n9 & 19 & 25 \\\\\n\\end{bmatrix}"
    assert _parse.bmatrix(text) == [[0.0, 3.0, 8.0], [9.0, 19.0, 25.0]]
    assert _parse.bmatrix("0 & 8\\\\\n6 & 8") == [[0.0, 8.0], [6.0, 8.0]]


# -- the whole registry on the backend under test -----------------------------------------------


def test_every_case_passes_on_the_backend(be):
    bk = Book(be.name)
    with be.run_context():  # as the runner: the cases train, and a loss is a 0-d array
        results = [run_case(bk, c) for c in CASES]
    failures = [f"{r['id']}: {r['detail']}" for r in results if r["status"] == "fail"]
    assert not failures, "\n".join(failures)
    for c, r in zip(CASES, results):
        assert r["status"] == ("erratum" if c.erratum else "pass"), r
        if c.printed and c.erratum is None and SEED_FRAMEWORK[c.seed] == be.name:
            assert r["printout"] == "pass", r  # the seed's own framework prints the text
