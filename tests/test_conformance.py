"""The conformance suite itself: every case quotes its seed, case ids are unique, the parsers
read the printouts they are for, and the whole registry passes on the backend under test.

The suite is installed as ``portconv.conformance`` (from the checkout's ``conformance/``);
``python -m conformance.run`` from the checkout and ``portconv conformance`` both run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from portconv.conformance import _parse, report
from portconv.conformance._registry import SEED_FRAMEWORK, case, seed_text
from portconv.conformance.run import Book, load_cases, run_case, value_text

from portconv import cli

#: the seed pages as the project received them: shared/seeds beside the checkout (or beside a
#: folder above it, for a git worktree), when it is there
SHARED_SEEDS = next(
    (
        d / "shared" / "seeds"
        for d in Path(__file__).resolve().parents[1:]
        if (d / "shared" / "seeds").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "seeds",
)
CASES = load_cases()


# -- every case quotes its seed -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    # the pages shipped inside the package: what an installed suite's cases quote
    return {name: _parse.normalise(seed_text(name)) for name in SEED_FRAMEWORK}


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_documented_text_is_quoted_from_the_seed(c, seed_texts):
    assert _parse.normalise(c.documented) in seed_texts[c.seed], (
        f"{c.id}: the documented text does not appear in {c.seed} (after whitespace "
        f"normalisation): {c.documented!r}"
    )


def test_shipped_seed_pages_are_the_projects_seeds():
    if not SHARED_SEEDS.is_dir():
        pytest.skip(f"the project's seed pages are not beside this checkout ({SHARED_SEEDS})")
    for name in SEED_FRAMEWORK:
        assert seed_text(name) == (SHARED_SEEDS / name).read_text(encoding="utf-8"), name


def test_seed_text_names_an_unknown_seed():
    with pytest.raises(ValueError, match="unknown seed 'nope.txt'"):
        seed_text("nope.txt")


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


# -- the report's contents and the command ------------------------------------------------------


def test_results_carry_the_documented_text_and_the_value_obtained(be):
    bk = Book(be.name)
    c = next(c for c in CASES if c.id == "000:Out[2]:corr2d_book")
    with be.run_context():
        r = run_case(bk, c)
    assert r["documented"] == c.documented
    assert r["obtained"] == "[[19. 25.]\n [37. 43.]]"


def test_value_text_is_short():
    import numpy as np

    assert value_text((2, 3)) == "(2, 3)"
    assert value_text(np.arange(3.0)) == "[0. 1. 2.]"
    long = value_text(np.arange(10_000.0))
    assert "..." in long and len(long) < 100  # NumPy's summary of a long array
    assert len(value_text("x" * 5000)) == 600


def test_the_command_runs_the_suite_and_writes_the_report(tmp_path, capsys):
    status = cli.main(["conformance", "--backend", "numpy", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "conformance on numpy: 103 cases: 16 erratum, 87 pass" in out
    for name in ("numpy.json", "matrix.html", "matrix.md", "matrix.json"):
        assert (tmp_path / name).is_file(), name
    merged = json.loads((tmp_path / "matrix.json").read_text())
    assert merged["counts"]["numpy"]["pass"] == 87


def test_the_command_without_report_prints_the_matrix(monkeypatch, capsys, tmp_path):
    from portconv.conformance import run

    monkeypatch.setattr(run, "load_cases", lambda: CASES[:3])  # the whole suite ran above
    monkeypatch.chdir(tmp_path)
    assert cli.main(["conformance", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "conformance on numpy: 3 cases: 3 pass" in out
    assert out.splitlines()[-4].split() == ["pass", "3"]
    assert list(tmp_path.iterdir()) == []  # nothing written without --report


@pytest.mark.parametrize("bad", ["foo", ",", "numpy,tinygrad"])
def test_the_command_refuses_an_unknown_backend(bad, capsys):
    assert cli.main(["conformance", "--backend", bad]) == 2
    err = capsys.readouterr().err
    assert "--backend" in err and "numpy, torch" in err


def test_report_reads_results_written_by_an_older_runner(tmp_path):
    # results of before the report showed documented and obtained values still render
    (tmp_path / "numpy.json").write_text(
        json.dumps(
            {
                "backend": "numpy",
                "python": "3.11",
                "platform": "x",
                "portconv": "0.1.0",
                "numpy": "2.0",
                "time": "2026-01-01T00:00:00+0000",
                "library_version": "2.0",
                "results": [
                    {
                        "id": "a",
                        "seed": "000_x.txt",
                        "cell": "Out[1]",
                        "title": "t",
                        "status": "pass",
                        "detail": "",
                    }
                ],
            }
        )
    )
    assert report.main(["--dir", str(tmp_path)]) == 0
    assert "Out[1]" in (tmp_path / "matrix.html").read_text()


def test_the_html_page_has_title_versions_totals_legend_filter_and_cases():
    runs = {
        "numpy": {
            "backend": "numpy",
            "python": "3.11",
            "numpy": "2.0",
            "portconv": "9.9",
            "time": "T",
            "library_version": "2.0",
            "results": [
                {
                    "id": "000:Out[2]:a",
                    "seed": "000_199e6c1d1a4f81cd.txt",
                    "cell": "Out[2]",
                    "title": "corr2d <X>",
                    "status": "pass",
                    "detail": "",
                    "documented": "[[19.]]",
                    "obtained": "[[19.]]",
                },
                {
                    "id": "002:Out[9]:b",
                    "seed": "002_2b99741476205a97.txt",
                    "cell": "Out[9]",
                    "title": "b",
                    "status": "erratum",
                    "detail": "the brackets",
                    "erratum": "the brackets",
                    "documented": "x",
                    "obtained": "(1, 2)",
                },
            ],
        },
        "torch": {
            "backend": "torch",
            "python": "3.11",
            "numpy": "2.0",
            "portconv": "9.9",
            "time": "T",
            "library_version": "2.13",
            "results": [
                {
                    "id": "000:Out[2]:a",
                    "seed": "000_199e6c1d1a4f81cd.txt",
                    "cell": "Out[2]",
                    "title": "corr2d <X>",
                    "status": "fail",
                    "detail": "got 20",
                    "documented": "[[19.]]",
                    "obtained": "[[20.]]",
                },
            ],
        },
    }
    rows, backends = report.matrix(runs)
    page = report.to_html(rows, backends, runs, generated="2026-01-02")
    assert "<title>portconv conformance report, 2026-01-02</title>" in page
    assert "portconv 9.9" in page and "<td>2.13</td>" in page
    assert "Failures on: torch" in page
    for text in report.LEGEND.values():
        assert text.replace("'", "&#x27;") in page
    assert 'name="show" value="fail"' in page and "failures (1)" in page and "errata (1)" in page
    assert "corr2d &lt;X&gt;" in page  # escaped
    assert "000: 5.1 From Dense Layers to Convolutions (MXNet nd)" in page
    assert "<b>numpy</b>: [[19.]]" in page and "<b>torch</b>: [[20.]]" in page
    assert 'data-status="fail pass"' in page and 'data-status="absent erratum"' in page
    assert "the brackets" in page and "torch: got 20" in page
