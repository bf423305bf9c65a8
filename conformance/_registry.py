"""Cases: what the book documents, the example that reproduces it, and how to compare."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: seed file -> the backend that is the seed's own framework (its printouts are compared
#: with the documented text there)
SEED_FRAMEWORK = {
    "000_199e6c1d1a4f81cd.txt": "mxnet.nd",
    "001_311510ee5bf2f193.txt": "mxnet",
    "002_2b99741476205a97.txt": "torch",
    "003_55d8c69464c26305.txt": "torch",
}


@dataclass(frozen=True)
class Case:
    """One documented output.

    ``documented`` is the text exactly as the seed prints it; ``expected`` is the value the
    case checks, parsed from ``documented`` by ``parse`` -- or, for an erratum, the true value
    (``erratum`` says why the documented text cannot come from the documented code).
    ``run(bk)`` computes the output on a backend with portconv's public API. ``rule`` is
    "exact" (integers, shapes, booleans, text) or "close" (floats, within ``rtol``/``atol``);
    ``printed`` says how the seed's own framework shows the returned object -- "repr" (a
    notebook's ``Out[...]``) or "str" (``print``) -- when that is what ``documented`` holds;
    on that framework's backend the runner then also compares the printout with
    ``documented`` after whitespace normalisation.
    """

    id: str
    seed: str
    cell: str
    title: str
    documented: str
    run: Callable[[Any], Any]
    expected: Any
    rule: str = "exact"
    rtol: float = 0.0
    atol: float = 0.0
    printed: str | None = None
    erratum: str | None = None
    requires: tuple[str, ...] = field(default_factory=tuple)


CASES: list[Case] = []


def seed_text(seed: str) -> str:
    """The text of the seed page ``seed`` (a key of :data:`SEED_FRAMEWORK`), as shipped with
    the suite in ``seeds/``: the page every case of that seed quotes."""
    from importlib import resources

    if seed not in SEED_FRAMEWORK:
        raise ValueError(f"seed: unknown seed {seed!r}; known: {', '.join(SEED_FRAMEWORK)}")
    return resources.files(__package__).joinpath("seeds", seed).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Noted:
    """A case's result with a note for the report (for example the recovered random start
    of a replayed training run) and, optionally, the text the code printed (compared with
    the documented text on the seed's own framework instead of the value's repr)."""

    value: Any
    note: str = ""
    shown: str | None = None


def case(
    seed: str,
    cell: str,
    title: str,
    documented: str,
    *,
    expected: Any = None,
    parse: Callable[[str], Any] | None = None,
    rule: str = "exact",
    rtol: float = 0.0,
    atol: float = 0.0,
    printed: bool | str | None = None,
    erratum: str | None = None,
):
    """Register the decorated ``run(bk)`` as a case. Give ``expected`` or ``parse``."""
    if seed not in SEED_FRAMEWORK:
        raise ValueError(f"seed: unknown seed file {seed!r}")
    if (expected is None) == (parse is None) and erratum is None:
        raise ValueError(f"{seed} {cell}: give exactly one of expected= and parse=")
    if printed is True:
        printed = "repr"
    elif printed is False:
        printed = None
    if printed not in (None, "repr", "str"):
        raise ValueError(f"printed: expected 'repr', 'str' or None, got {printed!r}")
    if rule not in ("exact", "close"):
        raise ValueError(f"rule: expected 'exact' or 'close', got {rule!r}")

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        value = expected if expected is not None else parse(documented)
        cid = f"{seed[:3]}:{cell}:{fn.__name__}"
        if any(c.id == cid for c in CASES):
            raise ValueError(f"duplicate case id {cid}")
        CASES.append(
            Case(
                cid,
                seed,
                cell,
                title,
                documented.strip("\n"),
                fn,
                value,
                rule,
                rtol,
                atol,
                printed,
                erratum,
            )
        )
        return fn

    return register
