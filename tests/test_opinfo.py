"""PyTorch's own test inputs as an oracle: every sample and error input of the convolution and
pooling OpInfos (``torch.testing._internal.common_methods_invocations.op_db``), which
portconv's authors did not write, run through portconv in float64 on torch tensors.

For every sample: portconv's result (values, shape, dtype; indices exactly) on the generic
path and on the default path (torch's kernel where it computes exactly the call) equals
PyTorch's; its gradients with respect to every input that takes one (input, weight, bias)
equal PyTorch's, both through ``portconv.autograd`` and through torch's autograd over the
plain portconv ops, on both paths. For every error input: portconv refuses it with its own
error (a ``PortconvError``, i.e. a ``ValueError`` or ``TypeError`` naming the argument) or,
where portconv accepts on purpose what PyTorch refuses (:data:`ACCEPTED`), either refuses it
for a rule of its own or returns what its generic path gives. Nothing is skipped but the
samples listed in :data:`EXCLUDED`, each with its reason (the same list is in
docs/user-guide/ops.md).

Runs in the torch session (the samples are torch tensors); elsewhere it skips, saying so.
``torch.testing._internal`` needs the ``expecttest`` package (installed with the torch
session's test tools).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import portconv as pc
import portconv.autograd as ag

#: OpInfo name -> the portconv op of the same semantics (portconv.autograd has each too)
OPS = {
    **{f"nn.functional.conv{d}d": f"conv{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.conv_transpose{d}d": f"conv_transpose{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.max_pool{d}d": f"max_pool{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.avg_pool{d}d": f"avg_pool{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.adaptive_max_pool{d}d": f"adaptive_max_pool{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.adaptive_avg_pool{d}d": f"adaptive_avg_pool{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.max_unpool{d}d": f"max_unpool{d}d" for d in (1, 2, 3)},
    **{f"nn.functional.fractional_max_pool{d}d": f"fractional_max_pool{d}d" for d in (2, 3)},
    "max_pool2d_with_indices_backward": "max_pool2d",
}

#: PyTorch's refusals that portconv does not share (such an input is then refused only where
#: it breaks one of portconv's own rules, or gives portconv's result): message -> reason
ACCEPTED = {
    "pad should be at most half of effective kernel size": (
        "pooling accepts any padding smaller than the window span on each side, as MXNet "
        "(the book's edition) does; PyTorch allows half the kernel"
    ),
    "padding='same' is not supported for strided convolutions": (
        "padding='same' is TensorFlow's and ONNX's SAME_UPPER for any stride"
    ),
}

#: samples not run, with the reason (none at present; keep docs/user-guide/ops.md in step)
EXCLUDED: dict[str, str] = {}

TOL = dict(rtol=1e-9, atol=1e-10)


def _opinfos():
    try:
        from torch.testing._internal.common_methods_invocations import op_db
    except ImportError as exc:  # expecttest missing, or torch absent
        return [], f"torch.testing._internal cannot be imported: {exc}"
    return [o for o in op_db if o.name in OPS], ""


@pytest.fixture(scope="module")
def torch_be(be):
    if be.adapter.name != "torch":
        pytest.skip("the OpInfo samples are torch tensors: runs in the torch session")
    infos, reason = _opinfos()
    if not infos:
        pytest.skip(reason)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny calls: a thread pool only adds overhead
    yield be
    torch.set_num_threads(threads)


def _info(name: str, variant: str):
    infos, reason = _opinfos()
    found = [o for o in infos if o.name == name and o.variant_test_name == variant]
    if not found:
        pytest.skip(reason or f"this PyTorch has no OpInfo {name!r} ({variant!r})")
    return found[0]


VARIANTS = [(name, "") for name in sorted(OPS)] + [
    (f"nn.functional.max_unpool{d}d", "grad") for d in (1, 2, 3)
]


# -- running a sample ------------------------------------------------------------------------------


def _fractional_samples(torch, sample, d):
    """The sample's ``_random_samples``, or ones drawn from a seeded generator (the test
    passes the same to PyTorch)."""
    if "_random_samples" in sample.kwargs:
        return dict(sample.kwargs)
    x = sample.input
    n = x.shape[0] if x.ndim == d + 2 else 1
    c = x.shape[-d - 1]
    u = np.random.default_rng(n * 31 + c).random((n, c, d))
    return {**sample.kwargs, "_random_samples": torch.tensor(u, dtype=x.dtype)}


def _call(torch, info, sample):
    """``(reference function, portconv function name, args, kwargs)`` of a sample: the
    reference is PyTorch's op; a backward OpInfo compares gradients only."""
    kwargs = dict(sample.kwargs)
    if info.name.startswith("nn.functional.fractional"):
        kwargs = _fractional_samples(torch, sample, int(info.name[-2]))
    return info.op, OPS[info.name], list(sample.args), kwargs


def _first(y):
    return y[0] if isinstance(y, tuple) else y


def _leaves(torch, sample_input, args):
    """The floating tensors of a call that take a gradient: input, weight, bias."""
    leaves = [sample_input] + [a for a in args if isinstance(a, torch.Tensor)]
    return [t for t in leaves if t.is_floating_point()]


def _detached(torch, values, grad: bool):
    return [
        v.detach().requires_grad_(grad and v.is_floating_point())
        if isinstance(v, torch.Tensor)
        else v
        for v in values
    ]


def _check_values(be, got, expected):
    got_t = got if isinstance(got, tuple) else (got,)
    exp_t = expected if isinstance(expected, tuple) else (expected,)
    assert len(got_t) == len(exp_t), f"{len(got_t)} results, expected {len(exp_t)}"
    for g, e in zip(got_t, exp_t):
        be.check_array(g)
        assert g.dtype == e.dtype, f"dtype {g.dtype}, expected {e.dtype}"
        e_np = e.detach().numpy()
        if e.is_floating_point():
            be.check(g, e_np, **TOL)
        else:
            assert np.array_equal(be.to_numpy(g), e_np), "indices differ"


def _check_grads(torch, got, expected, what):
    for i, (g, e) in enumerate(zip(got, expected)):
        g = g.detach() if isinstance(g, torch.Tensor) else torch.as_tensor(g)
        assert g.shape == e.shape, f"{what}: gradient {i} shape {tuple(g.shape)}"
        torch.testing.assert_close(g, e, **TOL, msg=lambda m, w=what, i=i: f"{w}, grad {i}: {m}")


def _kept(torch, indices, d):
    """For max unpooling: whether each input is the one its position keeps where indices
    repeat within a plane (the last in row-major order, portconv's documented rule)."""
    planes = indices.reshape(-1, int(np.prod(indices.shape[-d:])))
    keep = torch.zeros(planes.shape, dtype=torch.bool)
    for p in range(planes.shape[0]):
        seen = set()
        for j in reversed(range(planes.shape[1])):
            v = int(planes[p, j])
            keep[p, j] = v not in seen
            seen.add(v)
    return keep.reshape(indices.shape)


def _run_sample(be, torch, info, sample):
    ref, name, args, kwargs = _call(torch, info, sample)
    backward_op = info.name == "max_pool2d_with_indices_backward"
    x = sample.input
    inputs = [x] + args
    with torch.no_grad():
        expected = ref(*_detached(torch, inputs, False), **kwargs)
    fn, ag_fn = getattr(pc, name), getattr(ag, name)
    if backward_op:  # the gradient of max_pool2d for an upstream of ones
        expected_grads = [expected]
        upstream = None
    else:
        for path in ("generic", "auto"):
            _check_values(be, fn(*_detached(torch, inputs, False), **kwargs, path=path), expected)
        if not x.requires_grad:
            return
        leaves = _detached(torch, inputs, True)
        out = _first(ref(*leaves, **kwargs))
        upstream = torch.randn(
            out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(0)
        )
        wanted = _leaves(torch, leaves[0], leaves[1:])
        expected_grads = torch.autograd.grad((out * upstream).sum(), wanted)
        if name.startswith("max_unpool"):  # repeated indices: only the kept input's counts
            keep = _kept(torch, args[0], int(name[-2]))
            expected_grads = (torch.where(keep, expected_grads[0], 0.0),)
    for path in ("generic", "auto"):
        # through portconv.autograd
        variables = [
            ag.Variable(v, requires_grad=True)
            if isinstance(v, torch.Tensor) and v.is_floating_point()
            else v
            for v in _detached(torch, inputs, False)
        ]
        y = _first(ag_fn(*variables, **kwargs, path=path))
        seed = torch.ones(y.shape, dtype=y.dtype) if upstream is None else upstream
        (y * seed).sum().backward()
        grads = [v.grad for v in variables if isinstance(v, ag.Variable)]
        _check_grads(torch, grads, expected_grads, f"portconv.autograd, path={path}")
        if path != "generic":  # the default path is torch's own kernel under its autograd
            continue
        # through torch's autograd over the plain generic op
        leaves = _detached(torch, inputs, True)
        y = _first(fn(*leaves, **kwargs, path=path))
        wanted = _leaves(torch, leaves[0], leaves[1:])
        grads = torch.autograd.grad((y * seed).sum(), wanted)
        _check_grads(torch, grads, expected_grads, f"torch autograd, path={path}")


@pytest.mark.parametrize(("name", "variant"), VARIANTS, ids=lambda v: v or "-")
def test_every_opinfo_sample(torch_be, name, variant):
    import torch

    info = _info(name, variant)
    samples = list(info.sample_inputs("cpu", torch.float64, requires_grad=info.supports_autograd))
    assert samples, f"{name}: no samples"
    failures = []
    for i, sample in enumerate(samples):
        if f"{name}[{i}]" in EXCLUDED:
            continue
        try:
            _run_sample(torch_be, torch, info, sample)
        except Exception as exc:  # collect every failing sample, then report them together
            shape = tuple(sample.input.shape)
            failures.append(f"sample {i} {shape} {sample.args} {sample.kwargs}: {exc!r:.300}")
    assert not failures, f"{len(failures)} of {len(samples)} samples failed:\n" + "\n".join(
        failures[:10]
    )


# -- error inputs ----------------------------------------------------------------------------------


def _accepted(regex: str) -> str | None:
    for fragment, reason in ACCEPTED.items():
        if fragment in regex.replace("\\", ""):
            return reason
    return None


@pytest.mark.parametrize("name", sorted(n for n in OPS if n.startswith("nn.functional")))
def test_every_opinfo_error_input(torch_be, name):
    import torch

    info = _info(name, "")
    if info.error_inputs_func is None:
        pytest.skip(f"{name}: PyTorch lists no error inputs")
    problems = []
    for err in info.error_inputs("cpu"):
        s = err.sample_input
        args, kwargs = list(s.args), dict(s.kwargs)
        fn = getattr(pc, OPS[name])
        reason = _accepted(err.error_regex)
        try:
            with torch.no_grad():
                got = fn(s.input, *args, **kwargs)
        except pc.PortconvError as exc:  # refused (where accepted on purpose, for another rule)
            if not re.match(r"^\w+: \S", str(exc)):
                problems.append(f"{err.error_regex!r}: the message names no argument: {exc}")
            continue
        except Exception as exc:
            problems.append(f"{err.error_regex!r}: a raw {type(exc).__name__}: {exc}")
            continue
        if reason is None:
            problems.append(f"{err.error_regex!r}: PyTorch refuses it, portconv returned {got!r}")
            continue
        # accepted on purpose: the result has the shape portconv's own rule gives
        first = _first(got)
        torch_be.check_array(first)
        generic = _first(fn(s.input, *args, **kwargs, path="generic"))
        assert first.shape == generic.shape
    assert not problems, "\n".join(problems)
