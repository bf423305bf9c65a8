"""Fuzzing the argument checks of every public op with hypothesis.

Each example draws arrays (mostly of plausible shapes, sometimes of any shape, dtype or
library) and arguments (mostly valid, often wrong or hostile: negative, zero, float, bool,
str, None, huge, sequences of the wrong length or contents, unknown layouts and conventions).
A call must either return a result of the shape the output-size formulas give, or raise one
of portconv's own errors (subclasses of ``pc.PortconvError``, which are ``ValueError`` or
``TypeError``): never an ``IndexError``, a backend's internal error, a hang or a crash.

The number of argument sets tried is printed at the end of the session (tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portconv as pc

pytestmark = pytest.mark.filterwarnings("ignore")

# -- hostile values -----------------------------------------------------------------------------

HUGE = st.sampled_from([2**40, 10**30])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.just({}),
    st.just(np.float32(2.0)),
    st.just(1 + 2j),
    st.just(object()),
)


def sizes(lo: int = 1, hi: int = 3):
    """An int-or-tuple argument (kernel_size, stride, dilation, output_padding), mostly valid."""
    small = st.integers(lo, hi)
    return st.one_of(
        small,
        small,
        st.lists(small, min_size=1, max_size=4).map(tuple),
        st.lists(small, min_size=1, max_size=3),
        st.integers(-3, lo - 1),
        HUGE,
        st.just(np.int64(2)),
        JUNK,
        st.lists(st.one_of(st.integers(-2, 3), JUNK), min_size=1, max_size=4).map(tuple),
    )


PAIR = st.tuples(st.integers(-1, 2), st.integers(-1, 2))
PADDING = st.one_of(
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(-3, -1),
    HUGE,
    st.sampled_from(["valid", "same", "same_lower", "SAME", "full", "", "pad"]),
    st.lists(st.integers(0, 2), min_size=1, max_size=4).map(tuple),
    st.lists(PAIR, min_size=1, max_size=4).map(tuple),
    st.lists(st.one_of(PAIR, st.integers(0, 1), JUNK), min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)), max_size=3),
    JUNK,
)
GROUPS = st.one_of(st.integers(1, 3), st.integers(1, 2), st.integers(-2, 0), HUGE, JUNK)
LAYOUT = st.one_of(
    st.just("channels_first"),
    st.just("channels_first"),
    st.sampled_from(["channels_last", "NCW", "NCHW", "NCDHW", "NWC", "NHWC", "ndhwc", "NCHWc"]),
    JUNK,
)
PATH = st.one_of(st.none(), st.sampled_from(["auto", "generic", "native", "fast"]), JUNK)
FLAG = st.one_of(st.booleans(), st.booleans(), JUNK, st.just(1))
CONVENTION = st.one_of(st.just("valid"), st.sampled_from(["full", "FULL", "same"]), JUNK)
DTYPES = st.sampled_from(
    ["float32", "float32", "float64", "float64", "int32", "bool", "complex64", "uint8"]
)


def shape_for(d: int, last: bool, n, c, spatial):
    return tuple(([] if n is None else [n]) + ([*spatial, c] if last else [c, *spatial]))


class Draw:
    """Arrays of the backend under test, drawn as plausible or arbitrary shapes."""

    def __init__(self, data, be):
        self.data, self.be = data, be

    def __call__(self, strategy):
        return self.data.draw(strategy)

    def array(self, shape, dtype=None):
        dtype = dtype or self(DTYPES)
        rng = np.random.default_rng(self(st.integers(0, 2**16)))
        a = rng.standard_normal(shape).astype(np.float64)
        try:
            a = a.astype(dtype)
            if self.be.name == "torch" and dtype == "uint8":
                a = a.astype("int32")
            return self.be.asarray(a)
        except Exception:  # a dtype this library lacks: a plausible float array instead
            return self.be.asarray(a.astype(np.float32))

    def odd_shape(self):
        return tuple(self(st.lists(st.integers(0, 4), max_size=6)))

    def batch_and_spatial(self, d):
        n = self(st.one_of(st.integers(1, 2), st.just(0), st.none()))
        return n, tuple(self(st.lists(st.integers(1, 6), min_size=d, max_size=d)))


# -- running one call ---------------------------------------------------------------------------


def attempt(be, counts, call, expected=None):
    """Run ``call()``; a portconv error is fine, any other error fails the test; a result
    must have the ``expected()`` shape (a function, so that it can itself refuse)."""
    counts["fuzz"][be.name] = counts["fuzz"].get(be.name, 0) + 1
    try:
        with be.run_context():
            y = call()
    except pc.PortconvError as exc:
        assert isinstance(exc, (ValueError, TypeError, RuntimeError))
        assert str(exc)
        return
    except Exception as exc:
        counts["fuzz_bad"] += 1
        raise AssertionError(f"non-portconv error {type(exc).__name__}: {exc}") from exc
    if expected is not None:
        be.check_array(y)
        want = expected()
        got = tuple(y.shape)
        assert got == want, f"result shape {got}, expected {want}"
        counts["fuzz_results"] += 1


def _norm(v, d, one=True):
    """The d-tuple an int-or-sequence argument means, or None where it means nothing; a
    one-element sequence stands for every axis (as in torch), unless ``one`` is False."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * d
    if isinstance(v, (tuple, list)) and all(_is_int(e) for e in v):
        if len(v) == d:
            return tuple(int(e) for e in v)
        if one and len(v) == 1:
            return (int(v[0]),) * d
    return None


def _is_int(e):
    return isinstance(e, (int, np.integer)) and not isinstance(e, bool)


def _norm_pads(p, d):
    ints = _norm(p, d)
    if ints is not None:
        return tuple((v, v) for v in ints)
    pairs = isinstance(p, (tuple, list)) and len(p) == d
    if pairs and all(isinstance(e, (tuple, list)) and _norm(e, 2, False) is not None for e in p):
        return tuple(_norm(e, 2, False) for e in p)
    return None


class _Box:
    """An array of a second, made-up library (registered by the ``box`` fixture)."""

    def __init__(self, a):
        self.a = np.asarray(a)
        self.shape, self.ndim, self.dtype = self.a.shape, self.a.ndim, self.a.dtype


@pytest.fixture(scope="module")
def box():
    from portconv.backends import Adapter

    import portconv._dispatch as dispatch

    class BoxAdapter(Adapter):
        name = "box"
        module = "builtins"

        def owns(self, x):
            return isinstance(x, _Box)

        def device(self, x):
            return "box0"

    before = dict(pc.adapters())
    pc.register(BoxAdapter())
    yield _Box
    dispatch._adapters = before
    dispatch._owner_by_type.clear()


FUZZ = settings(suppress_health_check=list(HealthCheck), deadline=None)

# -- convolution ----------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_conv(be, counts, box, data):
    draw = Draw(data, be)
    op = draw(st.sampled_from(["conv", "conv1d", "conv2d", "conv3d", "convolve"]))
    d = int(op[4]) if op[-1] == "d" and op != "convolve" else draw(st.integers(1, 3))
    layout = draw(LAYOUT)
    last = isinstance(layout, str) and layout.lower() in ("channels_last", "nwc", "nhwc", "ndhwc")
    groups = draw(GROUPS)
    g = groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 0 else 1
    g = min(g, 3)
    if draw(st.integers(0, 5)):
        n, spatial = draw.batch_and_spatial(d)
        c = g * draw(st.integers(1, 2))
        c_out = g * draw(st.integers(1, 3))
        kernel = tuple(draw(st.lists(st.integers(1, 4), min_size=d, max_size=d)))
        x_shape = shape_for(d, last, n, c, spatial)
        w_shape = (*kernel, c // g, c_out) if last else (c_out, c // g, *kernel)
    else:
        x_shape, w_shape = draw.odd_shape(), draw.odd_shape()
    x = draw.array(x_shape)
    w = draw.array(w_shape, draw(st.sampled_from([str(x.dtype).split(".")[-1], None])))
    b_kind = draw(st.sampled_from(["none", "none", "right", "wrong", "junk", "box"]))
    c_out_w = w_shape[-1 if last else 0] if w_shape else 1
    b = {
        "none": lambda: None,
        "right": lambda: draw.array((c_out_w,), str(x.dtype).split(".")[-1]),
        "wrong": lambda: draw.array(draw.odd_shape()),
        "junk": lambda: draw(JUNK),
        "box": lambda: box(np.zeros(c_out_w, np.float32)),
    }[b_kind]()
    if draw(st.integers(0, 12)) == 0:
        w = box(np.zeros(w_shape, np.float32))
    kw = {
        "stride": draw(sizes()),
        "padding": draw(PADDING),
        "dilation": draw(sizes()),
        "groups": groups,
    }
    if draw(st.booleans()):
        kw["layout"] = layout
    else:
        last = False
    if draw(st.integers(0, 3)) == 0:
        kw["path"] = draw(PATH)
    if draw(st.integers(0, 6)) == 0:
        kw["strides"] = draw(sizes())

    def expected():
        stride = kw["stride"] if kw.get("strides") is None else kw["strides"]
        if op == "convolve" and len(x_shape) == 2 and len(w_shape) == 2:
            return pc.conv_output_shape(x_shape, w_shape, stride, kw["padding"], kw["dilation"])
        dd = len(w_shape) - 2
        kernel = w_shape[:dd] if last else w_shape[2:]
        c_out = w_shape[-1] if last else w_shape[0]
        batched = len(x_shape) == dd + 2
        sp = x_shape[int(batched) : int(batched) + dd] if last else x_shape[-dd:]
        out = pc.conv_output_shape(sp, kernel, stride, kw["padding"], kw["dilation"])
        lead = x_shape[:1] if batched else ()
        return lead + ((*out, c_out) if last else (c_out, *out))

    attempt(be, counts, lambda: getattr(pc, op)(x, w, b, **kw), expected)


@FUZZ
@given(data=st.data())
def test_fuzz_conv_transpose(be, counts, box, data):
    draw = Draw(data, be)
    op = draw(st.sampled_from(["conv_transpose", *(f"conv_transpose{i}d" for i in (1, 2, 3))]))
    d = int(op[-2]) if op[-1] == "d" else draw(st.integers(1, 3))
    groups = draw(GROUPS)
    g = groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 0 else 1
    g = min(g, 3)
    if draw(st.integers(0, 5)):
        n, spatial = draw.batch_and_spatial(d)
        c_in = g * draw(st.integers(1, 2))
        kernel = tuple(draw(st.lists(st.integers(1, 4), min_size=d, max_size=d)))
        x_shape = shape_for(d, False, n, c_in, spatial)
        w_shape = (c_in, draw(st.integers(1, 3)), *kernel)
    else:
        x_shape, w_shape = draw.odd_shape(), draw.odd_shape()
    x = draw.array(x_shape)
    w = draw.array(w_shape, draw(st.sampled_from([str(x.dtype).split(".")[-1], None])))
    c_out = (w_shape[1] * g) if len(w_shape) > 1 else 1
    b = draw(st.sampled_from([None, "right", "wrong", "box"]))
    if b == "right":
        b = draw.array((c_out,), str(x.dtype).split(".")[-1])
    elif b == "wrong":
        b = draw.array(draw.odd_shape())
    elif b == "box":
        b = box(np.zeros(c_out, np.float32))
    kw = {
        "stride": draw(sizes()),
        "padding": draw(PADDING),
        "output_padding": draw(sizes(0, 2)),
        "groups": groups,
        "dilation": draw(sizes()),
    }
    if draw(st.integers(0, 3)) == 0:
        kw["path"] = draw(PATH)

    def expected():
        dd = len(w_shape) - 2
        s, dil, op_ = (_norm(kw[k], dd) for k in ("stride", "dilation", "output_padding"))
        pads = _norm_pads(kw["padding"], dd)
        assert None not in (s, dil, op_, pads), f"accepted an undocumented argument in {kw}"
        batched = len(x_shape) == dd + 2
        out = tuple(
            (n - 1) * si - pb - pa + di * (k - 1) + o + 1
            for n, k, si, di, (pb, pa), o in zip(x_shape[-dd:], w_shape[2:], s, dil, pads, op_)
        )
        return x_shape[:1] * batched + (c_out, *out)

    attempt(be, counts, lambda: getattr(pc, op)(x, w, b, **kw), expected)


# -- pooling --------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_pool(be, counts, data):
    draw = Draw(data, be)
    kind = draw(st.sampled_from(["max", "avg"]))
    dims = draw(st.sampled_from([None, 1, 2, 3]))
    op = f"{kind}_pool" + ("" if dims is None else f"{dims}d")
    d = dims or draw(st.integers(1, 3))
    layout = draw(LAYOUT)
    last = isinstance(layout, str) and layout.lower() in ("channels_last", "nwc", "nhwc", "ndhwc")
    if draw(st.integers(0, 5)):
        n, spatial = draw.batch_and_spatial(d)
        if dims is None and n is None:
            n = 1
        x_shape = shape_for(d, last, n, draw(st.integers(1, 3)), spatial)
    else:
        x_shape = draw.odd_shape()
    x = draw.array(x_shape)
    kw = {"kernel_size": draw(sizes(1, 4)), "padding": draw(PADDING), "ceil_mode": draw(FLAG)}
    if draw(st.booleans()):
        kw["stride"] = draw(st.one_of(st.none(), sizes()))
    if kind == "max" and draw(st.booleans()):
        kw["dilation"] = draw(sizes())
    if kind == "avg" and draw(st.booleans()):
        kw["count_include_pad"] = draw(FLAG)
    if draw(st.booleans()):
        kw["pooling_convention"] = draw(CONVENTION)
    if draw(st.booleans()):
        kw["layout"] = layout
    else:
        last = False
    if draw(st.integers(0, 3)) == 0:
        kw["path"] = draw(PATH)
    if draw(st.integers(0, 6)) == 0:
        kw["pool_size"] = kw.pop("kernel_size")

    def expected():
        k = kw.get("kernel_size", kw.get("pool_size"))
        dd = dims or (len(k) if isinstance(k, (tuple, list)) else len(x_shape) - 2)
        batched = len(x_shape) == dd + 2
        sp = x_shape[int(batched) : int(batched) + dd] if last else x_shape[-dd:]
        out = pc.pool_output_shape(
            sp,
            k,
            kw.get("stride"),
            kw["padding"],
            kw.get("dilation", 1),
            kw["ceil_mode"],
            kw.get("pooling_convention", "valid"),
        )
        c = x_shape[-1] if last else x_shape[int(batched)]
        return x_shape[:1] * batched + ((*out, c) if last else (c, *out))

    attempt(be, counts, lambda: getattr(pc, op)(x, **kw), expected)


@FUZZ
@given(data=st.data())
def test_fuzz_adaptive_and_global_pool(be, counts, data):
    draw = Draw(data, be)
    kind = draw(st.sampled_from(["max", "avg"]))
    d = draw(st.integers(1, 3))
    layout = draw(LAYOUT)
    last = isinstance(layout, str) and layout.lower() in ("channels_last", "nwc", "nhwc", "ndhwc")
    if draw(st.integers(0, 5)):
        n, spatial = draw.batch_and_spatial(d)
        x_shape = shape_for(d, last, n, draw(st.integers(1, 3)), spatial)
    else:
        x_shape = draw.odd_shape()
    x = draw.array(x_shape)
    use_layout = draw(st.booleans())
    kw = {"layout": layout} if use_layout else {}
    last = last and use_layout
    if draw(st.integers(0, 3)) == 0:
        batched = len(x_shape) == d + 2

        def expected_global():
            c = x_shape[-1] if last else x_shape[1]
            return (x_shape[0], *([1] * d), c) if last else (x_shape[0], c, *([1] * d))

        op = getattr(pc, f"global_{kind}_pool")
        attempt(be, counts, lambda: op(x, **kw), expected_global if batched else None)
        return
    output_size = draw(
        st.one_of(
            st.integers(1, 4),
            st.lists(st.one_of(st.integers(1, 4), st.none()), min_size=d, max_size=d),
            sizes(),
            HUGE,
            st.lists(HUGE, min_size=d, max_size=d),
        )
    )
    if draw(st.integers(0, 3)) == 0:
        kw["path"] = draw(PATH)

    def expected():
        batched = len(x_shape) == d + 2
        sp = x_shape[int(batched) : int(batched) + d] if last else x_shape[-d:]
        want = (
            [output_size] * d if isinstance(output_size, (int, np.integer)) else list(output_size)
        )
        out = tuple(s if o is None else o for s, o in zip(sp, want))
        c = x_shape[-1] if last else x_shape[int(batched)]
        return x_shape[:1] * batched + ((*out, c) if last else (c, *out))

    op = getattr(pc, f"adaptive_{kind}_pool{d}d")
    attempt(be, counts, lambda: op(x, output_size, **kw), expected)


# -- the book's functions and the shape formulas ---------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_book_functions(be, counts, box, data):
    draw = Draw(data, be)
    which = draw(st.sampled_from(["corr2d", "pool2d", "convolve"]))
    shape = draw(st.one_of(st.tuples(st.integers(1, 6), st.integers(1, 6)), st.just(None)))
    x_shape = shape or draw.odd_shape()
    x = draw.array(x_shape)
    if which == "pool2d":
        pool_size = draw(sizes(1, 4))
        mode = draw(st.one_of(st.sampled_from(["max", "avg"]), JUNK, st.just("mean")))

        def expected():
            p = _norm(pool_size, 2)
            return tuple(x_shape[:-2]) + (x_shape[-2] - p[0] + 1, x_shape[-1] - p[1] + 1)

        attempt(be, counts, lambda: pc.pool2d(x, pool_size, mode), expected)
        return
    k_shape = draw(st.one_of(st.tuples(st.integers(1, 4), st.integers(1, 4)), st.just(None)))
    k_shape = k_shape or draw.odd_shape()
    k = draw.array(k_shape, draw(st.sampled_from([str(x.dtype).split(".")[-1], None])))
    if draw(st.integers(0, 8)) == 0:
        k = box(np.zeros(k_shape, np.float32))

    def expected():
        return (x_shape[0] - k_shape[0] + 1, x_shape[1] - k_shape[1] + 1)

    # (convolve of other shapes is test_fuzz_conv's: here only the result's type is checked)
    plain = len(x_shape) == 2 and len(k_shape) == 2
    attempt(be, counts, lambda: getattr(pc, which)(x, k), expected if plain else None)


@FUZZ
@given(data=st.data())
def test_fuzz_output_shape_functions(be, counts, data):
    which = data.draw(st.sampled_from(["conv", "pool"]))
    input_size = data.draw(st.one_of(sizes(1, 8), st.just(()), st.lists(HUGE, max_size=3)))
    kernel_size = data.draw(sizes(1, 4))
    kw = {"stride": data.draw(sizes()), "padding": data.draw(PADDING)}
    if data.draw(st.booleans()):
        kw["dilation"] = data.draw(sizes())
    if which == "pool" and data.draw(st.booleans()):
        kw["ceil_mode"] = data.draw(FLAG)
        kw["pooling_convention"] = data.draw(CONVENTION)
    fn = getattr(pc, f"{which}_output_shape")

    def call():
        out = fn(input_size, kernel_size, **kw)
        assert isinstance(out, tuple) and out and all(type(v) is int and v >= 1 for v in out)
        return out

    attempt(be, counts, call)
