"""A small reverse-mode automatic differentiation for every backend.

NumPy, CuPy and array-api-strict have no autograd; this module gives portconv one, written
once against the array API standard, with each op's forward and backward side by side::

    import portconv.autograd as ag
    W = ag.Variable(w, requires_grad=True)             # w: any backend's array
    loss = ((ag.conv2d(X, W) - Y) ** 2).sum()          # the book's 5.2.4
    loss.backward()
    W.grad                                             # an array of w's library, on w's device

A :class:`Variable` wraps one array of the caller's library (``.data``); ops on Variables
record, for each result, its parents and a ``backward`` closure that maps the result's
gradient to its parents' gradients. :meth:`Variable.backward` walks that graph in reverse
topological order and accumulates gradients into the leaves that ``requires_grad``. Values and
gradients are always the backend's own arrays on its device; nothing goes through NumPy.

Arguments of the ops may be Variables, plain arrays (constants) or Python scalars.
Convolution and pooling are recorded through one helper (:func:`_record`) from the op's own
call description: forward values come from the backend's native kernel where it has one, and
gradients from the library's own backward kernels where the adapter offers a native backward
(torch, MXNet: ``NativePath.vjp``), else from the op's generic rule in :mod:`portconv.ops`
(beside its forward), which uses the standard's functions only. Elementwise ops, reductions,
``linear`` and the losses below have their rules beside them here.

Where the arrays already carry native autograd (``torch`` tensors with ``requires_grad``,
MXNet under ``autograd.record()``), portconv's plain ops stay differentiable by the framework
itself; this module is for the libraries without one, and runs the same everywhere.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Sequence
from typing import Any

from . import _dispatch
from .errors import ArgumentError
from .ops import _common
from .ops import activation as _activation
from .ops import adaptive as _adaptive
from .ops import deform as _deform
from .ops import fractional as _fractional
from .ops import lp_pool as _lp
from .ops import pool as _pool
from .ops import unpool as _unpool
from .ops import upsample as _upsample
from .ops._args import _is_int
from .ops._common import prepare
from .ops.conv import bind as _conv_bind
from .ops.conv_transpose import bind as _conv_transpose_bind

__all__ = [
    "Variable",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "add",
    "avg_pool",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "concat",
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cross_entropy",
    "deform_conv2d",
    "divide",
    "flatten",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "global_avg_pool",
    "global_max_pool",
    "is_grad_enabled",
    "linear",
    "log_softmax",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "matmul",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "interpolate",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "mean",
    "mse_loss",
    "multiply",
    "negative",
    "no_grad",
    "permute_dims",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "squared_loss",
    "subtract",
    "sum",
    "sum_squared_error",
    "tanh",
]

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("portconv_grad", default=True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Ops inside the block record nothing (for parameter updates and evaluation)."""
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)


def is_grad_enabled() -> bool:
    return _enabled.get()


# -- the Variable and the graph --------------------------------------------------------------------


class Variable:
    """An array of any backend with a gradient.

    ``data``: the array (the caller's own type: a NumPy, CuPy, PyTorch, MXNet or
    array-api-strict array). ``requires_grad``: whether :meth:`backward` accumulates a
    gradient into ``grad`` (an array like ``data``, or None before the first backward).
    A Variable made by an op remembers its parents and how to pass a gradient to them.
    """

    __slots__ = ("data", "requires_grad", "_grad", "_parents", "_backward", "op")
    __array_ufunc__ = None  # NumPy arrays defer to our reflected operators

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if isinstance(data, Variable):
            data = data.data
        prepare(data)  # an array of a registered library, or a clear error
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = None  # a standard array (see the adapter's to_standard)
        self._parents: tuple = ()
        self._backward = None
        self.op = ""  # the name of the op that made it ("" for a leaf)

    # -- what it is
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return len(self.data.shape)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def __repr__(self) -> str:
        made = f", op={self.op!r}" if self.op else ""
        return f"Variable({self.data!r}, requires_grad={self.requires_grad}{made})"

    # -- the gradient, in the caller's array type
    @property
    def grad(self) -> Any:
        if self._grad is None:
            return None
        be, _, _ = prepare(self.data)
        return be.adapter.from_standard(self._grad, self.data)

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        _, _, (g,) = prepare(value)
        self._grad = g

    def zero_grad(self) -> None:
        self._grad = None

    def detach(self) -> Variable:
        """The same array, cut from the graph."""
        return Variable(self.data)

    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into the ``grad`` of every leaf that requires one.

        ``grad``: the gradient of some scalar with respect to ``self`` (an array of
        ``self``'s shape); may be left out when ``self`` holds a single element."""
        be, xp, (y,) = prepare(self.data)
        if grad is None:
            if math.prod(self.shape) != 1:
                raise ArgumentError(
                    f"grad: backward() of a Variable of shape {self.shape} needs the gradient "
                    f"of the output (an array of that shape); it may be left out only for a "
                    f"single element"
                )
            seed = xp.ones_like(y)
        else:
            _, _, (seed,) = prepare(grad)
            if tuple(seed.shape) != self.shape:
                raise ArgumentError(
                    f"grad: expected shape {self.shape} (the Variable's), got {tuple(seed.shape)}"
                )
        if not self.requires_grad:
            raise ArgumentError(
                "backward: this Variable does not depend on any Variable with "
                "requires_grad=True, so there is nothing to differentiate"
            )
        order = _topological(self)
        grads: dict[int, Any] = {id(self): seed}
        leaves: list[Variable] = []
        for v in reversed(order):
            g = grads.pop(id(v), None)
            if g is None:
                continue
            if v._backward is None:
                v._grad = g if v._grad is None else v._grad + g
                leaves.append(v)
                continue
            if math.prod(tuple(g.shape)) == 0:  # an empty result: every gradient through it is 0
                back = [
                    xp.zeros_like(prepare(p.data)[2][0]) if isinstance(p, Variable) else None
                    for p in v._parents
                ]
            else:
                back = v._backward(g)
            for parent, gp in zip(v._parents, back):
                if gp is None or not isinstance(parent, Variable) or not parent.requires_grad:
                    continue
                if gp.dtype != parent.dtype:  # NumPy < 2 promotes 0-d float32 seeds
                    _, _, (pd,) = prepare(parent.data)
                    gp = xp.astype(gp, pd.dtype)
                key = id(parent)
                grads[key] = gp if key not in grads else grads[key] + gp
        # a lazy library (Dask) computes the value and the gradients now, together, so that
        # the next step starts from them instead of from this step's whole graph
        settled = be.adapter.settle([self.data] + [v._grad for v in leaves])
        self.data = settled[0]
        for v, g in zip(leaves, settled[1:]):
            v._grad = g

    # -- operators (Python scalars and plain arrays are constants)
    def __add__(self, other: Any) -> Variable:
        return add(self, other)

    def __radd__(self, other: Any) -> Variable:
        return add(other, self)

    def __sub__(self, other: Any) -> Variable:
        return subtract(self, other)

    def __rsub__(self, other: Any) -> Variable:
        return subtract(other, self)

    def __mul__(self, other: Any) -> Variable:
        return multiply(self, other)

    def __rmul__(self, other: Any) -> Variable:
        return multiply(other, self)

    def __truediv__(self, other: Any) -> Variable:
        return divide(self, other)

    def __rtruediv__(self, other: Any) -> Variable:
        return divide(other, self)

    def __neg__(self) -> Variable:
        return negative(self)

    def __pow__(self, exponent: Any) -> Variable:
        return pow(self, exponent)

    def __matmul__(self, other: Any) -> Variable:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Variable:
        return matmul(other, self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Variable:
        return mean(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Variable:
        if len(shape) == 1 and not _is_int(shape[0]):
            shape = tuple(shape[0])
        return reshape(self, shape)


def _topological(root: Variable) -> list[Variable]:
    """Every Variable that ``root`` depends on (through ones that require a gradient), each
    after its parents (an explicit stack: deep graphs do not hit the recursion limit)."""
    order: list[Variable] = []
    seen: set[int] = set()
    stack: list[tuple[Variable, bool]] = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        for p in v._parents:
            if isinstance(p, Variable) and p.requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def _is_scalar(a: Any) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool)


def _as_var(a: Any) -> Any:
    """A Variable (plain arrays become constants); Python scalars stay as they are."""
    if a is None or isinstance(a, Variable) or _is_scalar(a):
        return a
    return Variable(a)


class _Call:
    """The backend, namespace and standard arrays of one op's Variables."""

    def __init__(self, *args: Any) -> None:
        self.args = tuple(_as_var(a) for a in args)
        arrays = [a.data for a in self.args if isinstance(a, Variable)]
        self.be, self.xp, std = prepare(*arrays)
        it = iter(std)
        self.std = [next(it) if isinstance(a, Variable) else a for a in self.args]
        self.like = next(a.data for a in self.args if isinstance(a, Variable))
        self.device = self.be.device

    def dtype(self) -> Any:
        """The dtype the standard gives the result: that of the Variables' arrays promoted
        together (Python scalars do not change it); None when they are not floating."""
        dtypes = [a.dtype for a in self.std if a is not None and hasattr(a, "dtype")]
        if not dtypes:
            return None
        out = dtypes[0] if len(dtypes) == 1 else self.xp.result_type(*dtypes)
        return out if self.xp.isdtype(out, "real floating") else None

    def needs(self, i: int) -> bool:
        a = self.args[i]
        return isinstance(a, Variable) and a.requires_grad

    def result(self, op: str, value: Any, backward) -> Variable:
        """The op's result as a Variable of the caller's array type, linked to its parents
        when a gradient may flow (``backward(g)`` returns one gradient per argument, None
        where there is none)."""
        if _dispatch._is_scalar(value):  # NumPy reduces to a NumPy scalar: keep an array
            value = self.xp.asarray(value)
        dtype = self.dtype()
        if (
            dtype is not None
            and value.dtype != dtype
            and self.xp.isdtype(value.dtype, "real floating")
        ):
            # NumPy < 2 promotes a 0-d float32 array with a Python float to float64; the
            # standard keeps float32 (Python scalars take the array's dtype)
            value = self.xp.astype(value, dtype)
        out = Variable.__new__(Variable)
        out.data = self.be.adapter.from_standard(value, self.like)
        out._grad = None
        out.op = op
        out._parents, out._backward, out.requires_grad = (), None, False
        if _enabled.get() and any(self.needs(i) for i in range(len(self.args))):
            out._parents, out._backward, out.requires_grad = self.args, backward, True
        return out

    def native(self, op: str, value: Any, backward) -> Variable:
        """Like :meth:`result` for a value computed by a public portconv op (already of the
        caller's array type)."""
        return self.result(op, self.be.adapter.to_standard(value), backward)


def _unbroadcast(xp: Any, g: Any, shape: Sequence[int]) -> Any:
    """The adjoint of broadcasting ``shape`` to ``g.shape``: sum over the broadcast axes."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = xp.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return g


def _shape(a: Any) -> tuple[int, ...]:
    return () if _is_scalar(a) else tuple(a.shape)


# -- elementwise arithmetic ------------------------------------------------------------------------


def add(a: Any, b: Any) -> Variable:
    c = _Call(a, b)
    x, y = c.std
    sx, sy = _shape(x), _shape(y)

    def backward(g):
        gx = _unbroadcast(c.xp, g, sx) if c.needs(0) else None
        gy = _unbroadcast(c.xp, g, sy) if c.needs(1) else None
        return gx, gy

    return c.result("add", x + y, backward)


def subtract(a: Any, b: Any) -> Variable:
    c = _Call(a, b)
    x, y = c.std
    sx, sy = _shape(x), _shape(y)

    def backward(g):
        gx = _unbroadcast(c.xp, g, sx) if c.needs(0) else None
        gy = _unbroadcast(c.xp, -g, sy) if c.needs(1) else None
        return gx, gy

    return c.result("subtract", x - y, backward)


def multiply(a: Any, b: Any) -> Variable:
    c = _Call(a, b)
    x, y = c.std

    def backward(g):
        gx = _unbroadcast(c.xp, g * y, _shape(x)) if c.needs(0) else None
        gy = _unbroadcast(c.xp, g * x, _shape(y)) if c.needs(1) else None
        return gx, gy

    return c.result("multiply", x * y, backward)


def divide(a: Any, b: Any) -> Variable:
    c = _Call(a, b)
    x, y = c.std

    def backward(g):
        gx = _unbroadcast(c.xp, g / y, _shape(x)) if c.needs(0) else None
        gy = _unbroadcast(c.xp, -g * x / (y * y), _shape(y)) if c.needs(1) else None
        return gx, gy

    return c.result("divide", x / y, backward)


def negative(a: Any) -> Variable:
    c = _Call(a)
    (x,) = c.std
    return c.result("negative", -x, lambda g: (-g,))


def pow(a: Any, exponent: float) -> Variable:
    """``a ** exponent`` for a Python number ``exponent``."""
    if not _is_scalar(exponent):
        raise ArgumentError(f"exponent: expected a Python number, got {type(exponent).__name__}")
    c = _Call(a)
    (x,) = c.std
    y = x * x if exponent == 2 else x**exponent

    def backward(g):
        if exponent == 2:
            return (g * (2.0 * x),)
        return (g * (exponent * x ** (exponent - 1)),)

    return c.result("pow", y, backward)


# -- reductions and shapes -------------------------------------------------------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if _is_int(axis):
        axis = (axis,)
    return tuple(int(a) % ndim for a in axis)


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    c = _Call(a)
    (x,) = c.std
    xp, shape = c.xp, tuple(x.shape)
    axes = _axes(axis, x.ndim)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))

    def backward(g):
        return (xp.broadcast_to(xp.reshape(g, kept), shape),)

    return c.result("sum", xp.sum(x, axis=axes, keepdims=keepdims), backward)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    c = _Call(a)
    (x,) = c.std
    xp, shape = c.xp, tuple(x.shape)
    axes = _axes(axis, x.ndim)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    count = float(math.prod(shape[i] for i in axes))

    def backward(g):
        return (xp.broadcast_to(xp.reshape(g / count, kept), shape),)

    return c.result("mean", xp.mean(x, axis=axes, keepdims=keepdims), backward)


def reshape(a: Any, shape: Sequence[int]) -> Variable:
    c = _Call(a)
    (x,) = c.std
    before = tuple(x.shape)
    return c.result("reshape", c.xp.reshape(x, tuple(shape)), lambda g: (c.xp.reshape(g, before),))


def flatten(a: Any, start_dim: int = 1, end_dim: int = -1) -> Variable:
    """Axes ``start_dim`` to ``end_dim`` merged into one (``torch.flatten``; Gluon's
    ``Flatten`` is ``start_dim=1``)."""
    shape = _as_var(a).shape
    nd = len(shape)
    s, e = start_dim % nd, end_dim % nd
    return reshape(a, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def permute_dims(a: Any, axes: Sequence[int]) -> Variable:
    c = _Call(a)
    (x,) = c.std
    axes = tuple(axes)
    inverse = [0] * len(axes)
    for pos, ax in enumerate(axes):
        inverse[ax] = pos
    return c.result(
        "permute_dims",
        c.xp.permute_dims(x, axes),
        lambda g: (c.xp.permute_dims(g, tuple(inverse)),),
    )


def concat(arrays: Sequence[Any], axis: int = 0) -> Variable:
    c = _Call(*arrays)
    xp = c.xp
    ax = axis % c.std[0].ndim
    sizes = [x.shape[ax] for x in c.std]

    def backward(g):
        parts, start = [], 0
        for n in sizes:
            parts.append(g[(slice(None),) * ax + (slice(start, start + n), ...)])
            start += n
        return tuple(parts)

    return c.result("concat", xp.concat(list(c.std), axis=ax), backward)


def matmul(a: Any, b: Any) -> Variable:
    """``a @ b`` for 2-D ``a`` and ``b`` (what ``linear`` and the book's models need)."""
    c = _Call(a, b)
    x, y = c.std
    xp = c.xp
    if x.ndim != 2 or y.ndim != 2:
        raise ArgumentError(
            f"matmul: expected two 2-D arrays, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )

    def backward(g):
        gx = xp.matmul(g, xp.matrix_transpose(y)) if c.needs(0) else None
        gy = xp.matmul(xp.matrix_transpose(x), g) if c.needs(1) else None
        return gx, gy

    return c.result("matmul", xp.matmul(x, y), backward)


# -- activations -----------------------------------------------------------------------------------


def relu(a: Any) -> Variable:
    """``max(x, 0)``: NaN stays NaN, and the gradient at 0 is 0, as in PyTorch and MXNet
    (the backend's own kernel and backward where it has them)."""
    return _record(_activation.bind(_activation.RELU, _data(a)), (a,), None)


def sigmoid(a: Any) -> Variable:
    """``1 / (1 + exp(-x))`` (the backend's own kernel and backward where it has them)."""
    return _record(_activation.bind(_activation.SIGMOID, _data(a)), (a,), None)


def tanh(a: Any) -> Variable:
    """``tanh(x)`` (the backend's own kernel and backward where it has them)."""
    return _record(_activation.bind(_activation.TANH, _data(a)), (a,), None)


def softmax(a: Any, axis: int = -1) -> Variable:
    c = _Call(a)
    (x,) = c.std
    xp = c.xp
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    y = e / xp.sum(e, axis=axis, keepdims=True)

    def backward(g):
        return (y * (g - xp.sum(g * y, axis=axis, keepdims=True)),)

    return c.result("softmax", y, backward)


def log_softmax(a: Any, axis: int = -1) -> Variable:
    c = _Call(a)
    (x,) = c.std
    xp = c.xp
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    y = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def backward(g):
        return (g - xp.exp(y) * xp.sum(g, axis=axis, keepdims=True),)

    return c.result("log_softmax", y, backward)


# -- dense layers and losses -----------------------------------------------------------------------


def linear(input: Any, weight: Any, bias: Any = None) -> Variable:
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``; Gluon's ``Dense``):
    input ``(..., in)``, weight ``(out, in)``, bias ``(out,)``."""
    c = _Call(input, weight, bias)
    x, w, b = c.std
    xp = c.xp
    lead = tuple(x.shape[:-1])
    x2 = xp.reshape(x, (math.prod(lead), x.shape[-1]))
    y = xp.matmul(x2, xp.matrix_transpose(w))
    if b is not None:
        y = y + b
    y = xp.reshape(y, lead + (w.shape[0],))

    def backward(g):
        g2 = xp.reshape(g, (math.prod(lead), w.shape[0]))
        gx = xp.reshape(xp.matmul(g2, w), tuple(x.shape)) if c.needs(0) else None
        gw = xp.matmul(xp.matrix_transpose(g2), x2) if c.needs(1) else None
        gb = xp.sum(g2, axis=0) if c.needs(2) else None
        return gx, gw, gb

    return c.result("linear", y, backward)


def _reduce(loss: Variable, reduction: str) -> Variable:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ArgumentError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")


def sum_squared_error(y_hat: Any, y: Any) -> Variable:
    """The book's loss for learning a kernel (5.2.4): ``((y_hat - y) ** 2).sum()``."""
    return sum(subtract(y_hat, y) ** 2)


def squared_loss(y_hat: Any, y: Any) -> Variable:
    """The book's ``squared_loss`` (3.4): ``(y_hat - y.reshape(y_hat.shape)) ** 2 / 2``,
    elementwise (no reduction)."""
    target = reshape(y, _as_var(y_hat).shape)
    return subtract(y_hat, target) ** 2 / 2.0


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Variable:
    """``torch.nn.functional.mse_loss``: the mean (or sum, or none) of ``(input - target)**2``."""
    return _reduce(subtract(input, target) ** 2, reduction)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Variable:
    """Softmax cross-entropy (``torch.nn.functional.cross_entropy``; Gluon's
    ``SoftmaxCrossEntropyLoss``): logits ``(N, C)``, target ``(N,)`` integer class indices
    (or ``(N, C)`` class probabilities), ``-sum(target_onehot * log_softmax(logits))`` per
    example, then the mean (default), the sum or none.

    Class indices must be whole numbers in ``[0, C)`` (floats that are whole numbers are
    read as indices, as Gluon does): anything else is an ``ArgumentError`` naming ``target``,
    the first offending position and its value, as PyTorch refuses them. That check reads one
    reduction back from the device; on lazy, chunked arrays (Dask), where that would compute
    the batch early, and inside a JAX trace (``jax.jit``), where no value can be read, an
    invalid index makes its example's loss NaN instead (:func:`portconv.train.fit` checks the
    labels of a whole data set once, on the host).
    """
    from .errors import ArrayTypeError, describe_type  # here: the module's imports are moving

    logits = _as_var(logits)
    if logits.ndim != 2:
        raise ArgumentError(f"logits: expected shape (N, C), got {logits.shape}")
    t = target.data if isinstance(target, Variable) else target
    try:
        be, xp, (ts,) = prepare(t)
    except TypeError:
        raise ArrayTypeError(
            f"target: expected an array of class indices or probabilities, got {describe_type(t)}"
        ) from None
    n, classes = logits.shape
    floating = xp.isdtype(ts.dtype, "real floating")
    if not (floating or xp.isdtype(ts.dtype, "integral")):
        raise ArrayTypeError(
            f"target: expected integer class indices (N,) or floating class probabilities "
            f"(N, C), got dtype {ts.dtype}"
        )
    if floating and ts.ndim == 2:
        if tuple(ts.shape) != (n, classes):
            raise ArgumentError(
                f"target: class probabilities must have the logits' shape ({n}, {classes}), "
                f"got shape {tuple(ts.shape)}"
            )
    elif tuple(ts.shape) != (n,):
        raise ArgumentError(
            f"target: expected {n} class indices (shape ({n},)) or class probabilities of "
            f"shape ({n}, {classes}), got shape {tuple(ts.shape)}"
        )
    else:
        if floating:
            # class indices stored as floats (MXNet's nd.array([0, 2, 1]) is float32, and
            # Gluon's SoftmaxCrossEntropyLoss takes them): whole numbers (NaN is not)
            valid = (xp.floor(ts) == ts) & (ts >= 0) & (ts < classes)
        else:
            valid = (ts >= 0) & (ts < classes)
        lazy = getattr(be.adapter, "chunked", False) and not floating
        ok = True
        if not lazy:
            try:
                ok = bool(xp.all(valid))  # one reduction read back
            except TypeError:  # a traced target (inside jax.jit) has no value to read
                lazy = True
        if not ok:
            import numpy as np

            host = np.asarray(be.adapter.to_numpy(t)).reshape(-1).astype(np.float64)
            bad = ~((host == np.floor(host)) & (host >= 0) & (host < classes))
            i = int(np.argmax(bad))
            value = host[i].item()
            value = int(value) if float(value).is_integer() else value
            raise ArgumentError(
                f"target: class indices must be whole numbers in [0, {classes}) for {classes} "
                f"classes; target[{i}] is {value!r}"
            )
        as_int = xp.astype(ts, xp.int64) if floating else ts  # after the check: no NaN
        _, _, (z,) = prepare(logits.data)
        iota = xp.reshape(xp.arange(classes, device=be.device), (1, classes))
        onehot = xp.astype(xp.reshape(as_int, (n, 1)) == iota, z.dtype)
        if lazy:  # no read back: an invalid index poisons its example's loss
            onehot = xp.where(xp.reshape(valid, (n, 1)), onehot, xp.full_like(onehot, math.nan))
        target = be.adapter.from_standard(onehot, logits.data)
    per_example = negative(sum(multiply(log_softmax(logits, axis=1), target), axis=1))
    return _reduce(per_example, reduction)


# -- convolution and pooling: each op's own forward and backward, recorded -------------------------


def _data(a: Any) -> Any:
    return a.data if isinstance(a, Variable) else a


def _record(plan: _common.Plan, args: tuple, path: str | None) -> Variable:
    """Run a checked op (``plan``) on ``args`` (Variables, plain arrays or None) and record
    it. The gradient is the op's pullback: the library's own backward kernels where the
    adapter offers a native backward for this call (torch, MXNet), else the op's generic rule
    (:mod:`portconv.ops`), which is the reference both are tested against. (The plan has
    checked the arrays already: this runs on every layer of every training step, so it does
    no more.)"""
    ad = plan.be.adapter
    xp = ad.namespace()
    data = [_data(a) for a in args]
    arrays = plan.inputs(xp, [None if a is None else ad.to_standard(a) for a in data])
    needs = tuple(isinstance(a, Variable) and a.requires_grad for a in args)
    out = Variable.__new__(Variable)
    out._grad, out.op = None, plan.op.name
    out._parents, out._backward, out.requires_grad = (), None, False
    if not (_enabled.get() and any(needs)):
        out.data = ad.from_standard(plan.output(xp, _common.forward(plan, arrays, path)), data[0])
        return out
    y, pullback = _common.vjp(plan, arrays, needs, path)

    def backward(g):
        return plan.input_grads(xp, pullback(plan.output_grad(xp, g)))

    out.data = ad.from_standard(plan.output(xp, y), data[0])
    out._parents, out._backward, out.requires_grad = args, backward, True
    return out


def _record_pair(plan: _common.Plan, args: tuple, path: str | None) -> tuple[Variable, Any]:
    """:func:`_record` for an op whose result is ``(values, indices)``: the values as a
    Variable recorded with the op's pullback, the indices (which have no gradient) as an
    array of the caller's type."""
    from .ops import _indices

    ad = plan.be.adapter
    xp = ad.namespace()
    data = [_data(a) for a in args]
    arrays = plan.inputs(xp, [None if a is None else ad.to_standard(a) for a in data])
    needs = tuple(isinstance(a, Variable) and a.requires_grad for a in args)
    out = Variable.__new__(Variable)
    out._grad, out.op = None, plan.op.name
    out._parents, out._backward, out.requires_grad = (), None, False
    if not (_enabled.get() and any(needs)):
        y, idx = _indices.forward_pair(plan, arrays, path)
    else:
        if 0 in plan.call.out_shape:  # an empty result: every gradient through it is 0
            y, idx = _indices.forward_pair(plan, arrays, path)

            def pullback(g):
                return tuple(
                    xp.zeros_like(a) if n and a is not None else None for a, n in zip(arrays, needs)
                )
        else:
            (y, idx), pullback = _common.vjp(plan, arrays, needs, path)

        def backward(g):
            return plan.input_grads(xp, pullback(plan.output_grad(xp, g)))

        out._parents, out._backward, out.requires_grad = args, backward, True
    out.data = ad.from_standard(plan.output(xp, y), data[0])
    return out, ad.from_standard(plan.output(xp, idx), data[0])


def conv(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    layout: str = "channels_first",
    path: str | None = None,
    padding_mode: str = "zeros",
) -> Variable:
    """:func:`portconv.conv` with gradients for input, weight and bias.

    Parameters
    ----------
    input, weight, bias : Variable or array
        Plain arrays are constants (no gradient); ``bias`` may be None.
    stride, padding, dilation, groups, layout, path, padding_mode
        As :func:`portconv.conv`.

    Returns
    -------
    Variable
        Its ``.data`` is what :func:`portconv.conv` returns.

    Examples
    --------
    >>> import numpy as np
    >>> import portconv.autograd as ag
    >>> X = ag.Variable(np.ones((1, 1, 3, 3)))
    >>> K = ag.Variable(np.ones((1, 1, 2, 2)), requires_grad=True)
    >>> ag.conv(X, K).sum().backward()
    >>> K.grad
    array([[[[4., 4.],
             [4., 4.]]]])
    """
    plans = _conv_bind(
        _data(input), _data(weight), _data(bias), stride, padding, dilation, groups, layout,
        None, False, padding_mode,
    )  # fmt: skip
    return _record_conv(plans, (input, weight, bias), path)


def _record_conv(plans: Any, args: tuple, path: str | None) -> Variable:
    """Record a bound convolution: one op, or (``padding_mode``) the padding, then the
    convolution without padding."""
    if isinstance(plans, _common.Plan):
        return _record(plans, args, path)
    pre, plan = plans
    return _record(plan, (_record(pre, args[:1], path),) + tuple(args[1:]), path)


def _fixed_conv(d: int):
    def op(
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        *,
        layout: str = "channels_first",
        path: str | None = None,
        padding_mode: str = "zeros",
    ) -> Variable:
        plans = _conv_bind(
            _data(input), _data(weight), _data(bias), stride, padding, dilation, groups,
            layout, d, False, padding_mode,
        )  # fmt: skip
        return _record_conv(plans, (input, weight, bias), path)

    op.__name__ = op.__qualname__ = f"conv{d}d"
    op.__doc__ = f""":func:`portconv.conv{d}d` with gradients for input, weight and bias.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups, layout, path, padding_mode
        As :func:`conv`.

    Returns
    -------
    Variable
    """
    return op


conv1d = _fixed_conv(1)
conv2d = _fixed_conv(2)
conv3d = _fixed_conv(3)


def conv_transpose(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    output_size: Any = None,
    layout: str = "channels_first",
    path: str | None = None,
) -> Variable:
    """:func:`portconv.conv_transpose` with gradients for input, weight and bias.

    Parameters
    ----------
    input, weight, bias : Variable or array
    stride, padding, output_padding, groups, dilation, output_size, layout, path
        As :func:`portconv.conv_transpose`.

    Returns
    -------
    Variable
    """
    plan = _conv_transpose_bind(
        _data(input), _data(weight), _data(bias), stride, padding, output_padding, groups,
        dilation, None, output_size, layout,
    )  # fmt: skip
    return _record(plan, (input, weight, bias), path)


def _fixed_transpose(d: int):
    def op(
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        dilation: Any = 1,
        *,
        output_size: Any = None,
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Variable:
        plan = _conv_transpose_bind(
            _data(input), _data(weight), _data(bias), stride, padding, output_padding, groups,
            dilation, d, output_size, layout,
        )  # fmt: skip
        return _record(plan, (input, weight, bias), path)

    op.__name__ = op.__qualname__ = f"conv_transpose{d}d"
    op.__doc__ = f""":func:`portconv.conv_transpose{d}d` with gradients for input, weight and bias.

    Parameters
    ----------
    input, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
    layout, path
        As :func:`conv_transpose`.

    Returns
    -------
    Variable
    """
    return op


conv_transpose1d = _fixed_transpose(1)
conv_transpose2d = _fixed_transpose(2)
conv_transpose3d = _fixed_transpose(3)


def max_pool(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
) -> Any:
    """:func:`portconv.max_pool` with a gradient: to the first maximum of each window in
    row-major order, as PyTorch and MXNet route it on ties.

    Parameters
    ----------
    input : Variable or array
    kernel_size, stride, padding, dilation, ceil_mode, return_indices
        As :func:`portconv.max_pool`.
    pooling_convention, layout, path
        As :func:`portconv.max_pool`.

    Returns
    -------
    Variable or (Variable, array)
        With ``return_indices``, the indices (an int64 array, no gradient) too.

    Examples
    --------
    >>> import numpy as np
    >>> import portconv.autograd as ag
    >>> X = ag.Variable(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
    >>> ag.max_pool(X, 2).sum().backward()
    >>> X.grad
    array([[[[0., 1.],
             [0., 0.]]]])
    """
    plan = _pool.bind(
        "max", _data(input), kernel_size, stride, padding, dilation, ceil_mode, True,
        pooling_convention, layout, None, None, return_indices,
    )  # fmt: skip
    return _record_pool(plan, input, path)


def _record_pool(plan: _common.Plan, input: Any, path: str | None) -> Any:
    """Record a bound pooling call: values, or values and indices."""
    if getattr(plan.call, "indices", False):
        return _record_pair(plan, (input,), path)
    return _record(plan, (input,), path)


def avg_pool(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    dilation: Any = 1,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
) -> Variable:
    """:func:`portconv.avg_pool` with a gradient: each output's, divided by its window's
    count, spread over the window.

    Parameters
    ----------
    input : Variable or array
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As :func:`portconv.avg_pool`.
    dilation, pooling_convention, layout, path
        As :func:`portconv.avg_pool`.

    Returns
    -------
    Variable
    """
    plan = _pool.bind(
        "avg", _data(input), kernel_size, stride, padding, dilation, ceil_mode,
        count_include_pad, pooling_convention, layout, None, divisor_override,
    )  # fmt: skip
    return _record(plan, (input,), path)


def _fixed_pools(d: int):
    def max_pool_d(
        input: Any,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        return_indices: bool = False,
        *,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Any:
        plan = _pool.bind(
            "max", _data(input), kernel_size, stride, padding, dilation, ceil_mode, True,
            pooling_convention, layout, d, None, return_indices,
        )  # fmt: skip
        return _record_pool(plan, input, path)

    def avg_pool_d(
        input: Any,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        dilation: Any = 1,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Variable:
        plan = _pool.bind(
            "avg", _data(input), kernel_size, stride, padding, dilation, ceil_mode,
            count_include_pad, pooling_convention, layout, d, divisor_override,
        )  # fmt: skip
        return _record(plan, (input,), path)

    for fn, kind in ((max_pool_d, "max"), (avg_pool_d, "avg")):
        fn.__name__ = fn.__qualname__ = f"{kind}_pool{d}d"
        fn.__doc__ = f""":func:`{kind}_pool` for {d} spatial dimension(s), with a gradient.

    Parameters
    ----------
    input, kernel_size, stride, padding, ...
        As :func:`portconv.{kind}_pool{d}d`.

    Returns
    -------
    Variable
    """
    return max_pool_d, avg_pool_d


max_pool1d, avg_pool1d = _fixed_pools(1)
max_pool2d, avg_pool2d = _fixed_pools(2)
max_pool3d, avg_pool3d = _fixed_pools(3)


def _fixed_adaptive(kind: str, d: int):
    if kind == "max":

        def op(
            input: Any,
            output_size: Any,
            return_indices: bool = False,
            *,
            layout: str = "channels_first",
            path: str | None = None,
        ) -> Any:
            plan = _adaptive.bind(kind, _data(input), output_size, layout, d, return_indices)
            return _record_pool(plan, input, path)
    else:

        def op(
            input: Any,
            output_size: Any,
            *,
            layout: str = "channels_first",
            path: str | None = None,
        ) -> Variable:
            plan = _adaptive.bind(kind, _data(input), output_size, layout, d)
            return _record(plan, (input,), path)

    op.__name__ = op.__qualname__ = f"adaptive_{kind}_pool{d}d"
    op.__doc__ = f""":func:`portconv.adaptive_{kind}_pool{d}d` with a gradient.

    Parameters
    ----------
    input : Variable or array
    output_size, layout, path
        As :func:`portconv.adaptive_{kind}_pool{d}d` (and, for max pooling,
        ``return_indices``).

    Returns
    -------
    Variable
    """
    return op


adaptive_max_pool1d = _fixed_adaptive("max", 1)
adaptive_max_pool2d = _fixed_adaptive("max", 2)
adaptive_max_pool3d = _fixed_adaptive("max", 3)
adaptive_avg_pool1d = _fixed_adaptive("avg", 1)
adaptive_avg_pool2d = _fixed_adaptive("avg", 2)
adaptive_avg_pool3d = _fixed_adaptive("avg", 3)


def global_max_pool(
    input: Any, *, layout: str = "channels_first", path: str | None = None
) -> Variable:
    """:func:`portconv.global_max_pool` with a gradient to the first maximum of each channel.

    Parameters
    ----------
    input : Variable or array
    layout, path
        As :func:`portconv.global_max_pool`.

    Returns
    -------
    Variable
    """
    return _record(_adaptive.bind("max", _data(input), None, layout, None), (input,), path)


def global_avg_pool(
    input: Any, *, layout: str = "channels_first", path: str | None = None
) -> Variable:
    """:func:`portconv.global_avg_pool` with a gradient.

    Parameters
    ----------
    input : Variable or array
    layout, path
        As :func:`portconv.global_avg_pool`.

    Returns
    -------
    Variable
    """
    return _record(_adaptive.bind("avg", _data(input), None, layout, None), (input,), path)


def _fixed_unpool(d: int):
    def op(
        input: Any,
        indices: Any,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        output_size: Any = None,
        *,
        path: str | None = None,
    ) -> Variable:
        idx = _data(indices)
        plan = _unpool.bind(_data(input), idx, kernel_size, stride, padding, output_size, d)
        _unpool.check_indices(plan, idx)
        return _record(plan, (input, idx), path)

    op.__name__ = op.__qualname__ = f"max_unpool{d}d"
    op.__doc__ = f""":func:`portconv.max_unpool{d}d` with a gradient for the input values: each
    value's is the output gradient at its index (0 for a value that a later one with the same
    index overwrote).

    Parameters
    ----------
    input : Variable or array
    indices : array
        Integer indices (no gradient).
    kernel_size, stride, padding, output_size, path
        As :func:`portconv.max_unpool{d}d`.

    Returns
    -------
    Variable
    """
    return op


max_unpool1d = _fixed_unpool(1)
max_unpool2d = _fixed_unpool(2)
max_unpool3d = _fixed_unpool(3)


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    path: str | None = None,
) -> Variable:
    """:func:`portconv.interpolate` with a gradient: each input element's is the sum of the
    output gradients that copied it.

    Parameters
    ----------
    input : Variable or array
    size, scale_factor, mode, align_corners, recompute_scale_factor, path
        As :func:`portconv.interpolate`.

    Returns
    -------
    Variable
    """
    plan = _upsample.bind(
        _data(input), size, scale_factor, mode, align_corners, recompute_scale_factor
    )
    return _record(plan, (input,), path)


def _fixed_lp(d: int):
    def op(
        input: Any,
        norm_type: float,
        kernel_size: Any,
        stride: Any = None,
        ceil_mode: bool = False,
        *,
        padding: Any = 0,
        dilation: Any = 1,
        convention: str = "torch",
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Variable:
        plan = _lp.bind(
            _data(input), norm_type, kernel_size, stride, ceil_mode, padding, dilation,
            convention, layout, d,
        )  # fmt: skip
        return _record(plan, (input,), path)

    op.__name__ = op.__qualname__ = f"lp_pool{d}d"
    op.__doc__ = f""":func:`portconv.lp_pool{d}d` with a gradient (0 where a window's sum is 0,
    as in PyTorch).

    Parameters
    ----------
    input : Variable or array
    norm_type, kernel_size, stride, ceil_mode, padding, dilation, convention, layout, path
        As :func:`portconv.lp_pool{d}d`.

    Returns
    -------
    Variable
    """
    return op


lp_pool1d = _fixed_lp(1)
lp_pool2d = _fixed_lp(2)
lp_pool3d = _fixed_lp(3)


def _fixed_fractional(d: int):
    def op(
        input: Any,
        kernel_size: Any,
        output_size: Any = None,
        output_ratio: Any = None,
        return_indices: bool = False,
        _random_samples: Any = None,
        *,
        generator: Any = None,
        path: str | None = None,
    ) -> Any:
        x = _data(input)
        plan = _fractional.bind(x, kernel_size, output_size, output_ratio, return_indices, d)
        samples = _fractional.samples_for(plan, x, _data(_random_samples), generator)
        samples = plan.be.adapter.from_standard(samples, x)
        y, idx = _record_pair(plan, (input, samples), path)
        return (y, idx) if plan.call.indices else y

    op.__name__ = op.__qualname__ = f"fractional_max_pool{d}d"
    op.__doc__ = f""":func:`portconv.fractional_max_pool{d}d` with a gradient: each output's to
    the input at its maximum (summed where windows share one).

    Parameters
    ----------
    input : Variable or array
    kernel_size, output_size, output_ratio, return_indices, _random_samples, generator, path
        As :func:`portconv.fractional_max_pool{d}d`.

    Returns
    -------
    Variable or (Variable, array)
    """
    return op


fractional_max_pool2d = _fixed_fractional(2)
fractional_max_pool3d = _fixed_fractional(3)


def deform_conv2d(
    input: Any,
    offset: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    mask: Any = None,
    *,
    path: str | None = None,
) -> Variable:
    """:func:`portconv.deform_conv2d` with gradients for the input, the offsets, the weight,
    the bias and the mask.

    Parameters
    ----------
    input, offset, weight, bias, mask : Variable or array
        Plain arrays are constants; ``bias`` and ``mask`` may be None.
    stride, padding, dilation, path
        As :func:`portconv.deform_conv2d`.

    Returns
    -------
    Variable
    """
    plan = _deform.bind(
        _data(input), _data(offset), _data(weight), _data(bias), stride, padding, dilation,
        _data(mask),
    )  # fmt: skip
    return _record(plan, (input, offset, weight, bias, mask), path)
