"""Weights between portconv and the frameworks the book uses: PyTorch, MXNet Gluon and
JAX's Flax.

PyTorch. portconv names parameters as ``torch.nn`` does (``"net.0.weight"``,
``"net.b2.0.conv1.bias"``, ``"running_mean"``), so a ``torch.nn`` model of the same structure
(the book's PyTorch code) and a portconv model exchange state dicts name for name:
:func:`load_torch_state_dict` and :func:`export_torch_state_dict`.

Gluon. Gluon's names depend on how they were obtained: ``net.collect_params()`` in MXNet 1.x
gives prefixed names in creation order (``conv0_weight``, ``dense1_bias``,
``batchnorm0_gamma``, or ``sequential0_conv0_weight``), while ``net.save_parameters(path)``
writes structural names (``0.weight``, ``5.gamma``, ``b2.0.conv1.bias``; what
``net.load_parameters(path)`` expects). Neither is PyTorch's. :func:`load_gluon_params`
therefore maps by **order within each kind of layer**:

- Gluon's parameters are grouped into layers (the name less its last part: ``weight``,
  ``bias``, ``gamma``, ``beta``, ``running_mean``/``moving_mean``,
  ``running_var``/``moving_var``) in the order they come; a layer with ``gamma`` or running
  statistics is a batch norm, one with a 2-D weight a dense layer, any other a convolution.
- portconv's layers with parameters are listed in module order and classified the same way.
- The i-th Gluon convolution goes to the i-th portconv convolution, the i-th dense layer to the
  i-th dense layer, the i-th batch norm to the i-th batch norm. Gluon's parameter order follows
  layer creation order, which is the order of the book's Sequential models (and of the
  book's ``Residual``: ``conv1``, ``conv2``, ``conv3``, then ``bn1``, ``bn2``) in both
  editions; activation, pooling and flatten layers have no parameters and do not count.
- ``gamma`` -> ``weight``, ``beta`` -> ``bias``, ``running_mean``/``moving_mean`` ->
  ``running_mean``, ``running_var``/``moving_var`` -> ``running_var``. Convolution weights are
  ``(out, in/groups, *kernel)`` and dense weights ``(units, in_units)`` in both, so values are
  copied as they are. Every shape is checked and an error names both sides.

:func:`export_gluon_params` writes a ``.params`` file (``mx.nd.save``) that
``net.load_parameters(path)`` loads into a Gluon net of the same structure. The names are taken
from ``net`` when it is given (the reliable way, for any structure), by the same
order-within-kind rule; without it they are built by the rule under which the book's Gluon
``Sequential`` models are written (see :func:`gluon_names`).

Flax. Flax's ``nn.Conv`` holds ``kernel`` ``(*kernel, C_in/groups, C_out)`` (HWIO) and
``bias``, ``nn.Dense`` ``kernel`` ``(in, out)``, ``nn.BatchNorm`` ``scale``/``bias`` (and
``mean``/``var`` in the ``batch_stats`` collection), and Flax models run channels last.
:func:`load_flax_params` pairs layers by order within each kind, as for Gluon, transposes
the kernels, and reorders the inputs of the first dense layer after a convolution from
``(*spatial, C)`` to ``(C, *spatial)`` (the two flatten different layouts);
:func:`export_flax_params` does the reverse, into the tree of the Flax model's own variables
(``like=``) or into the names the book's JAX edition gives a ``nn.Sequential``
(:func:`flax_names`).
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._files import atomic_path, check_readable
from .errors import ArgumentError, ArrayTypeError, FileFormatError, PortconvError, describe_type
from .nn import layers as _layers
from .nn.module import Module, Sequential

__all__ = [
    "export_flax_params",
    "export_gluon_params",
    "export_torch_state_dict",
    "flax_names",
    "flax_to_state_dict",
    "gluon_names",
    "gluon_to_state_dict",
    "load_flax_params",
    "load_gluon_params",
    "load_torch_state_dict",
]

# -- PyTorch -----------------------------------------------------------------------------------


def _require_module(model: Any, source: str | None = None) -> None:
    if not isinstance(model, Module):
        raise ArrayTypeError(f"model: expected a portconv.nn.Module, got {describe_type(model)}")
    last = _layers.channels_last_layers(model) if source else []
    if last:  # the converters read and write OIHW kernels and (C, H, W)-flattened features
        name, m = last[0]
        raise ArgumentError(
            f"model: {name or type(model).__name__} ({type(m).__name__}) takes channels-last "
            f"input; portconv's {source} converters map channels-first models only (OIHW "
            f"kernels, features flattened as (C, H, W)): build the model with "
            f"layout='channels_first' for them"
        )


def _torch_to_numpy(name: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            t = t.float()
        return t.numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ArrayTypeError(
        f"state_dict[{name!r}]: expected a torch.Tensor, got {describe_type(value)}"
    )


def load_torch_state_dict(model: Module, state_dict: Any, strict: bool = True) -> Module:
    """Load a ``torch.nn`` state dict (or a ``torch.nn.Module``, whose ``state_dict()`` is
    taken) into ``model``. The names are PyTorch's on both sides (the book's plain
    ``nn.Sequential``, ``0.weight``, loads into a model whose layers are ``self.net``,
    ``net.0.weight``, as :meth:`Module.load_state_dict` reads either form); tensors are
    copied to the host (``.detach().cpu().numpy()``) and then follow the model's library and
    device (before the first call: the first input's). ``num_batches_tracked`` is skipped
    (portconv's BatchNorm has no cumulative-average mode). Every name, shape and dtype is
    checked before anything changes. Returns ``model``."""
    _require_module(model, "PyTorch")
    if not isinstance(state_dict, Mapping) and hasattr(state_dict, "state_dict"):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise ArrayTypeError(
            f"state_dict: expected a mapping of names to tensors (torch_model.state_dict()), "
            f"got {describe_type(state_dict)}"
        )
    host = OrderedDict(
        (name, _torch_to_numpy(name, v))
        for name, v in state_dict.items()
        if not name.endswith("num_batches_tracked")
    )
    try:
        model.load_state_dict(host, strict=strict)
    except PortconvError as exc:
        raise type(exc)(f"torch state_dict -> {type(model).__name__}: {exc}") from None
    return model


def export_torch_state_dict(model: Module, device: Any = None) -> OrderedDict:
    """``model``'s parameters and buffers as an ``OrderedDict`` of ``torch.Tensor`` under
    PyTorch's names, ready for ``torch_model.load_state_dict(...)`` (a BatchNorm's missing
    ``num_batches_tracked`` is filled in by PyTorch itself). Tensors are copies, on
    ``device`` (default: the CPU, or the model's own device when it lives on torch)."""
    _require_module(model, "PyTorch")
    import torch

    state = model.state_dict()
    if not state:
        raise ArgumentError(
            f"{type(model).__name__} has no parameters yet: call it once on an input (or use "
            f"layer_summary) so that its lazy layers create them"
        )
    out: OrderedDict = OrderedDict()
    for name, value in state.items():
        if isinstance(value, torch.Tensor):
            t = value.detach().clone()
        else:
            from ._dispatch import backend_of

            t = torch.from_numpy(np.array(backend_of(value).adapter.to_numpy(value), copy=True))
        out[name] = t if device is None else t.to(device)
    return out


# -- Gluon -------------------------------------------------------------------------------------

#: Gluon's parameter suffix -> portconv's local name (for batch norms; weight/bias as they are)
_GLUON_SUFFIXES = {
    "running_mean": "running_mean",
    "moving_mean": "running_mean",
    "running_var": "running_var",
    "moving_var": "running_var",
    "gamma": "weight",
    "beta": "bias",
    "weight": "weight",
    "bias": "bias",
}
_OURS_TO_GLUON = {"weight": "gamma", "bias": "beta"}  # batch norms only


def _split_gluon(name: str) -> tuple[str, str]:
    """``"conv0_weight"`` -> ("conv0", "weight"); ``"5.running_var"`` -> ("5", "running_var")."""
    bare = name.split(":", 1)[1] if name.startswith(("arg:", "aux:")) else name
    for suffix in sorted(_GLUON_SUFFIXES, key=len, reverse=True):
        for sep in ("_", "."):
            if bare.endswith(sep + suffix):
                return bare[: -len(suffix) - 1], suffix
        if bare == suffix:
            return "", suffix
    raise ArgumentError(
        f"Gluon parameter {name!r}: not a weight, bias, gamma, beta, running/moving mean or "
        f"variance; portconv maps only convolution, dense and batch-norm layers"
    )


def _gluon_kind(layer: str, suffixes: dict[str, Any]) -> str:
    if any(s in suffixes for s in ("gamma", "beta", "running_mean", "moving_mean")):
        return "batchnorm"
    w = suffixes.get("weight")
    if w is None:
        raise ArgumentError(f"Gluon layer {layer!r}: a bias without a weight")
    return "dense" if len(w) == 2 else "conv"


def _gluon_layers(shapes: Mapping[str, tuple]) -> list[tuple[str, str, dict[str, str]]]:
    """Gluon names grouped into layers in order: (layer, kind, {suffix: full name})."""
    layers: OrderedDict = OrderedDict()
    shape_of: dict = {}
    for name, shape in shapes.items():
        layer, suffix = _split_gluon(name)
        layers.setdefault(layer, {})[suffix] = name
        shape_of.setdefault(layer, {})[suffix] = shape
    return [(lay, _gluon_kind(lay, shape_of[lay]), names) for lay, names in layers.items()]


def _our_kind(m: Module) -> str | None:
    if isinstance(m, _layers._BatchNorm):
        return "batchnorm"
    if isinstance(m, _layers.Dense):
        return "dense"
    if isinstance(m, _layers._Conv):
        return "conv"
    return None


def _our_layers(model: Module, source: str = "Gluon") -> list[tuple[str, str, Module]]:
    """portconv's layers with parameters, in module order: (prefix, kind, module)."""
    out = []

    def walk(m: Module, prefix: str) -> None:
        if m._params or m._buffers:
            kind = _our_kind(m)
            if kind is None:
                raise ArgumentError(
                    f"{prefix.rstrip('.') or type(m).__name__} ({type(m).__name__}): a layer "
                    f"with parameters that has no {source} counterpart here (convolution, "
                    f"dense and batch-norm layers only)"
                )
            out.append((prefix, kind, m))
        for cname, child in m._children.items():
            if child is not None:
                walk(child, f"{prefix}{cname}.")

    walk(model, "")
    return out


def _pair(ours: list, gluon: list, source: str = "Gluon") -> list[tuple[tuple, tuple]]:
    """Pair portconv's and Gluon's (or ``source``'s) layers by order within each kind."""
    counts = {}
    for kind in ("conv", "dense", "batchnorm"):
        a = [x for x in ours if x[1] == kind]
        b = [x for x in gluon if x[1] == kind]
        counts[kind] = (len(a), len(b))
    if any(a != b for a, b in counts.values()):
        detail = ", ".join(f"{k}: {a} vs {b}" for k, (a, b) in counts.items())
        raise ArgumentError(
            f"the {source} parameters do not have the model's structure (layers of each kind, "
            f"portconv vs {source}: {detail})"
        )
    pairs = []
    for kind in ("conv", "dense", "batchnorm"):
        a = [x for x in ours if x[1] == kind]
        b = [x for x in gluon if x[1] == kind]
        pairs.extend(zip(a, b))
    return pairs


def _local_to_suffix(local: str, kind: str, gnames: dict[str, str]) -> str | None:
    if kind == "batchnorm":
        candidates = {
            "weight": ("gamma",),
            "bias": ("beta",),
            "running_mean": ("running_mean", "moving_mean"),
            "running_var": ("running_var", "moving_var"),
        }[local]
    else:
        candidates = (local,)
    return next((c for c in candidates if c in gnames), None)


def _expected_shape(m: Module, local: str, kind: str) -> tuple:
    """The shape portconv expects for ``local`` (None where the input decides)."""
    if local in m._params:
        p = m._params[local]
        return tuple(p.shape) if p is not None else tuple(m._shapes[local])
    b = m._buffers.get(local)
    if b is not None:
        return tuple(b.shape)
    w = m._params.get("weight")  # a batch norm's statistics: one per channel
    if w is not None:
        return tuple(w.shape)
    return tuple(m._shapes.get("weight", (None,)))


def _shape_ok(expected: tuple, got: tuple) -> bool:
    return len(expected) == len(got) and all(e is None or e == g for e, g in zip(expected, got))


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"


def _to_numpy(name: str, value: Any) -> np.ndarray:
    if hasattr(value, "data") and callable(value.data) and hasattr(value, "shape"):
        try:  # a Gluon Parameter
            value = value.data()
        except Exception as exc:  # deferred initialisation, not initialised
            raise ArgumentError(
                f"Gluon parameter {name!r} has no data yet ({type(exc).__name__}): call "
                f"net.initialize() and run the net once on an input"
            ) from None
    if hasattr(value, "asnumpy"):
        return value.asnumpy()
    if isinstance(value, np.ndarray):
        return value
    from ._dispatch import backend_of

    try:
        return np.asarray(backend_of(value).adapter.to_numpy(value))
    except TypeError:
        raise ArrayTypeError(
            f"Gluon parameter {name!r}: expected an NDArray, a Gluon Parameter or an array, got "
            f"{describe_type(value)}"
        ) from None


def _gluon_arrays(params: Any) -> OrderedDict:
    """name -> NumPy array from a ``.params`` path, a Gluon Block, a ParameterDict or a
    mapping of arrays."""
    if isinstance(params, (str, os.PathLike)):
        path = check_readable(params, "params")
        import mxnet as mx

        try:
            loaded = mx.nd.load(path)
        except mx.base.MXNetError as exc:  # a truncated, corrupt or foreign file
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            first = lines[-1].strip() if lines else type(exc).__name__  # MXNet's own words
            raise FileFormatError(
                f"params: {path} is not a readable MXNet .params file ({first})"
            ) from None
        if not isinstance(loaded, dict):
            raise ArgumentError(
                f"{path}: holds a list of {len(loaded)} unnamed arrays; a Gluon .params file "
                f"(net.save_parameters) holds named ones"
            )
        params = loaded
    elif hasattr(params, "collect_params") and not isinstance(params, Mapping):
        params = params.collect_params()
    if not (isinstance(params, Mapping) or hasattr(params, "items")):
        raise ArrayTypeError(
            f"params: expected a .params path, a Gluon Block, net.collect_params() or a dict, "
            f"got {describe_type(params)}"
        )
    return OrderedDict((name, _to_numpy(name, v)) for name, v in params.items())


def gluon_to_state_dict(model: Module, params: Any) -> OrderedDict:
    """The state dict (PyTorch's names, NumPy arrays) that ``params`` (see
    :func:`load_gluon_params`) becomes for ``model``, by order within each kind of layer."""
    _require_module(model, "Gluon")
    arrays = _gluon_arrays(params)
    if not arrays:
        raise ArgumentError("params: no Gluon parameters given")
    gluon = _gluon_layers({n: a.shape for n, a in arrays.items()})
    ours = _our_layers(model)
    state: OrderedDict = OrderedDict()
    for (prefix, kind, m), (glayer, _, gnames) in _pair(ours, gluon):
        locals_ = list(m._params) + list(m._buffers)
        used = set()
        for local in locals_:
            suffix = _local_to_suffix(local, kind, gnames)
            if suffix is None:
                raise ArgumentError(
                    f"{prefix}{local}: the Gluon layer {glayer!r} has no "
                    f"{_OURS_TO_GLUON.get(local, local) if kind == 'batchnorm' else local} "
                    f"parameter (it has {', '.join(gnames)})"
                )
            used.add(suffix)
            value = arrays[gnames[suffix]]
            want = _expected_shape(m, local, kind)
            if not _shape_ok(want, value.shape):
                raise ArgumentError(
                    f"Gluon {gnames[suffix]!r} of shape {tuple(value.shape)} -> {prefix}{local}: "
                    f"portconv expects {_fmt(want)} (Gluon's layers are paired with the model's "
                    f"by order within each kind of layer)"
                )
            state[prefix + local] = value
        extra = [gnames[s] for s in gnames if s not in used]
        if extra:
            raise ArgumentError(
                f"Gluon {', '.join(map(repr, extra))}: {prefix.rstrip('.')} "
                f"({type(m).__name__}) has no such parameter"
            )
    return state


def load_gluon_params(model: Module, params: Any) -> Module:
    """Load Gluon parameters into ``model``: ``params`` is ``net.collect_params()`` (a
    ParameterDict), a Gluon Block, the path of a ``.params`` file (``net.save_parameters``;
    read with ``mx.nd.load``) or a dict of name -> array. Gluon's names are mapped onto
    portconv's by order within each kind of layer (see the module's docstring). Returns
    ``model``."""
    model.load_state_dict(gluon_to_state_dict(model, params), strict=True)
    return model


_FOLDED = (_layers.ReLU, _layers.Sigmoid, _layers.Tanh)


def gluon_names(model: Module) -> OrderedDict:
    """portconv name -> the structural Gluon name ``net.save_parameters`` writes for the
    Gluon net the book would write for ``model``:

    - a model whose ``net`` is its forward (the book's ``Classifier`` pattern) is that
      Sequential (Gluon's book builds ``net = nn.Sequential()`` directly);
    - in a Sequential, an activation directly after a convolution or dense layer is folded into
      it (Gluon's ``Conv2D(..., activation='sigmoid')``) and a ``Flatten`` is dropped (Gluon's
      ``Dense`` flattens its input), so they take no index; every other child does
      (pooling, batch norm, an activation after a batch norm: Gluon's ``Activation`` block);
    - other modules keep their attribute names (``conv1``, ``bn1``);
    - batch-norm ``weight``/``bias`` are ``gamma``/``beta``.

    This is how the book's Gluon LeNet (6.6) and BN-LeNet (8.5) are written; for other
    structures (the Gluon ResNet, whose ``b1`` is not a nested Sequential) pass ``net=`` to
    :func:`export_gluon_params`."""
    _require_module(model)
    root = model
    net = model._children.get("net")
    if isinstance(net, Sequential) and type(model).forward is Module.forward:
        root = net
    out: OrderedDict = OrderedDict()

    def walk(m: Module, ours: str, theirs: str) -> None:
        kind = _our_kind(m)
        for local in list(m._params) + list(m._buffers):
            g = _OURS_TO_GLUON.get(local, local) if kind == "batchnorm" else local
            out[ours + local] = theirs + g
        children = [(n, c) for n, c in m._children.items() if c is not None]
        index = 0
        prev = None
        for cname, child in children:
            if isinstance(m, Sequential):
                skip = isinstance(child, _layers.Flatten) or (
                    isinstance(child, _FOLDED) and prev in ("conv", "dense")
                )
                gname = None if skip else str(index)
                if not skip:
                    index += 1
                prev = _our_kind(child)
            else:
                gname = cname
            if gname is not None:
                walk(child, f"{ours}{cname}.", f"{theirs}{gname}.")

    prefix = "net." if root is not model else ""
    walk(root, prefix, "")
    return out


def export_gluon_params(model: Module, path: str | os.PathLike, net: Any = None) -> OrderedDict:
    """Write ``model``'s parameters to ``path`` as a Gluon ``.params`` file (``mx.nd.save``)
    that ``net.load_parameters(path)`` loads into a Gluon net of the same structure.

    With ``net`` (a Gluon Block; initialised or not), the names are ``net``'s structural ones
    (those ``net.save_parameters`` writes), paired with the model's layers by order within
    each kind of layer and checked shape by shape; without it, :func:`gluon_names`' rule.
    Returns the dict written (Gluon name -> NDArray)."""
    import mxnet as mx

    _require_module(model, "Gluon")
    state = model.state_dict()
    if not state:
        raise ArgumentError(
            f"{type(model).__name__} has no parameters yet: call it once on an input (or use "
            f"layer_summary) so that its lazy layers create them"
        )
    from ._dispatch import backend_of

    host = OrderedDict((n, np.asarray(backend_of(v).adapter.to_numpy(v))) for n, v in state.items())
    if net is None:
        names = gluon_names(model)
    else:
        if hasattr(net, "_collect_params_with_prefix"):  # MXNet 1.x: what save_parameters uses
            gparams = net._collect_params_with_prefix()
        else:  # MXNet 2.x: collect_params() already has the structural names
            gparams = net.collect_params()
        gshapes = OrderedDict((n, tuple(p.shape or ())) for n, p in gparams.items())
        gluon = _gluon_layers(gshapes)
        names = OrderedDict()
        for (prefix, kind, m), (glayer, _, gnames) in _pair(_our_layers(model), gluon):
            for local in list(m._params) + list(m._buffers):
                suffix = _local_to_suffix(local, kind, gnames)
                if suffix is None:
                    raise ArgumentError(
                        f"{prefix}{local}: the Gluon layer {glayer!r} has no matching "
                        f"parameter (it has {', '.join(gnames)})"
                    )
                gshape = gshapes[gnames[suffix]]
                mine = host[prefix + local].shape
                known = tuple(None if s == 0 else s for s in gshape)  # 0: deferred
                if gshape and not _shape_ok(known, mine):
                    raise ArgumentError(
                        f"{prefix}{local} of shape {mine} -> Gluon {gnames[suffix]!r}: Gluon "
                        f"expects {_fmt(known)}"
                    )
                names[prefix + local] = gnames[suffix]
    missing = [n for n in host if n not in names]
    if missing:
        raise ArgumentError(f"no Gluon name for {', '.join(missing)}")
    out = OrderedDict((names[n], mx.nd.array(a, dtype=a.dtype)) for n, a in host.items())
    with atomic_path(path, what="path") as tmp:  # fsync-ed and renamed: never half a file
        mx.nd.save(tmp, out)
    return out


# -- Flax (JAX) --------------------------------------------------------------------------------

#: Flax's leaf name -> portconv's local name, per kind of layer (a batch norm's statistics live
#: in Flax's "batch_stats" collection, everything else in "params")
_FLAX_LEAVES = {
    "conv": {"kernel": "weight", "bias": "bias"},
    "dense": {"kernel": "weight", "bias": "bias"},
    "batchnorm": {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"},
}
_FLAX_STATS = ("mean", "var")


def _flax_order(keys: list) -> list:
    """Flax's auto-named submodules (``Conv_0`` ... ``Conv_10``, ``layers_0`` ...) in the
    order of their numbers, in the slots they hold (a dict that went through
    ``jax.tree_util`` comes back sorted as strings, ``Conv_10`` before ``Conv_2``); other
    names keep their order."""
    import re

    numbered = [(i, k) for i, k in enumerate(keys) if re.fullmatch(r".*_\d+", str(k))]
    ranked = sorted(
        (k for _, k in numbered),
        key=lambda k: (str(k).rsplit("_", 1)[0], int(str(k).rsplit("_", 1)[1])),
    )
    out = list(keys)
    for (slot, _), k in zip(numbered, ranked):
        out[slot] = k
    return out


def _flax_collections(variables: Any) -> tuple[Mapping, Mapping]:
    """(params tree, batch_stats tree) of Flax ``variables`` (``{"params": ...,
    "batch_stats": ...}``, as ``model.init`` returns them) or of a params tree alone."""
    if not isinstance(variables, Mapping):
        raise ArrayTypeError(
            f"variables: expected Flax variables ({{'params': ..., 'batch_stats': ...}}) or a "
            f"params dict, got {describe_type(variables)}"
        )
    if isinstance(variables.get("params"), Mapping):
        unknown = [c for c in variables if c not in ("params", "batch_stats")]
        if unknown:
            raise ArgumentError(
                f"variables: collections {', '.join(map(repr, unknown))} have no portconv "
                f"counterpart (only 'params' and 'batch_stats' are mapped)"
            )
        return variables["params"], variables.get("batch_stats") or {}
    return variables, {}


def _flax_layers(variables: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Flax's layers in order: (path "a/b", kind, {leaf: array}), the statistics of a batch
    norm joined to its scale and bias."""
    params, stats = _flax_collections(variables)
    layers: OrderedDict = OrderedDict()

    def walk(tree: Mapping, path: tuple) -> None:
        keys = _flax_order(list(tree.keys()))
        for key in keys:
            value = tree[key]
            if isinstance(value, Mapping):
                walk(value, path + (str(key),))
            else:
                layers.setdefault("/".join(path), {})[str(key)] = value

    walk(params, ())
    walk(stats, ())
    out = []
    for path, leaves in layers.items():
        if "mean" in leaves or "var" in leaves or "scale" in leaves:
            kind = "batchnorm"
        elif "kernel" in leaves:
            kind = "dense" if len(np.shape(leaves["kernel"])) == 2 else "conv"
        else:
            raise ArgumentError(
                f"Flax layer {path!r}: leaves {', '.join(leaves)} are not a convolution's or "
                f"dense layer's kernel/bias nor a batch norm's scale/bias/mean/var"
            )
        unknown = [leaf for leaf in leaves if leaf not in _FLAX_LEAVES[kind]]
        if unknown:
            raise ArgumentError(
                f"Flax layer {path!r} ({kind}): leaves {', '.join(unknown)} have no portconv "
                f"counterpart"
            )
        out.append((path, kind, leaves))
    return out


def _flatten_spatial(layers: list, shape_of: Any, flatten_shape: Any) -> dict[str, tuple]:
    """portconv prefix of the first dense layer after a convolution -> (C, *spatial): the
    array Flax flattens channels last and portconv channels first. ``shape_of(prefix, m)``
    gives a layer's weight shape in portconv's layout (from the model, or from the Flax
    layer paired with it when the model has not run yet)."""
    channels, d = None, 2
    for prefix, kind, m in layers:
        if kind == "conv":
            shape = shape_of(prefix, m)
            channels, d = int(shape[0]), len(shape) - 2
            continue
        if kind != "dense" or channels is None:
            continue
        in_features = int(shape_of(prefix, m)[1])
        if flatten_shape is not None:
            flat = tuple(int(v) for v in flatten_shape)
        else:
            per_channel, rest = divmod(in_features, channels)
            side = round(per_channel ** (1.0 / d)) if not rest else 0
            if rest or side**d != per_channel:
                raise ArgumentError(
                    f"{prefix}weight: its {in_features} inputs are not {channels} channels of a "
                    f"square {d}-D map; give flatten_shape=(C, *spatial), the shape portconv "
                    f"flattens before this layer"
                )
            flat = (channels,) + (side,) * d
        if math.prod(flat) != in_features:
            raise ArgumentError(
                f"flatten_shape: {flat} holds {math.prod(flat)} values, but {prefix}weight "
                f"takes {in_features} inputs"
            )
        return {prefix: flat}
    return {}


def _flax_to_ours(kind: str, local: str, value: np.ndarray, flat: tuple | None) -> np.ndarray:
    if local != "weight" or kind == "batchnorm":
        return value
    if kind == "conv":  # (*kernel, C_in/groups, C_out) -> (C_out, C_in/groups, *kernel)
        d = value.ndim - 2
        return np.transpose(value, (d + 1, d) + tuple(range(d)))
    out = value.T  # (in, out) -> (out, in)
    if flat is not None:  # inputs flattened as (*spatial, C) -> as (C, *spatial)
        c, spatial = flat[0], flat[1:]
        d = len(spatial)
        out = out.reshape((out.shape[0],) + spatial + (c,))
        out = np.transpose(out, (0, d + 1) + tuple(range(1, d + 1))).reshape(out.shape[0], -1)
    return np.ascontiguousarray(out)


def _ours_to_flax(kind: str, local: str, value: np.ndarray, flat: tuple | None) -> np.ndarray:
    if local != "weight" or kind == "batchnorm":
        return value
    if kind == "conv":  # (C_out, C_in/groups, *kernel) -> (*kernel, C_in/groups, C_out)
        d = value.ndim - 2
        return np.ascontiguousarray(np.transpose(value, tuple(range(2, d + 2)) + (1, 0)))
    if flat is not None:  # inputs flattened as (C, *spatial) -> as (*spatial, C)
        d = len(flat) - 1
        value = value.reshape((value.shape[0],) + tuple(flat))
        value = np.transpose(value, (0,) + tuple(range(2, d + 2)) + (1,))
        value = value.reshape(value.shape[0], -1)
    return np.ascontiguousarray(value.T)  # (out, in) -> (in, out)


def _transposed(layers: list) -> None:
    for prefix, kind, m in layers:
        if kind == "conv" and getattr(m, "transposed", False):
            raise ArgumentError(
                f"{prefix.rstrip('.')} ({type(m).__name__}): transposed convolutions are not "
                f"mapped to Flax (its ConvTranspose lays out and flips kernels its own way)"
            )


def flax_to_state_dict(model: Module, variables: Any, *, flatten_shape: Any = None) -> OrderedDict:
    """The state dict (PyTorch's names, NumPy arrays) that Flax ``variables`` become for
    ``model``, paired by order within each kind of layer (see :func:`load_flax_params`).

    Parameters
    ----------
    model : Module
        A portconv model of the same structure (its parameters may not exist yet).
    variables : dict
        Flax's ``{"params": ..., "batch_stats": ...}`` (what ``flax_model.init`` returns), or
        the params tree alone; leaves are arrays of any library.
    flatten_shape : tuple of int, optional
        ``(C, *spatial)`` of the feature map flattened before the first dense layer that
        follows a convolution, where it is not square.

    Returns
    -------
    OrderedDict
        portconv name -> NumPy array, in portconv's layout.

    Raises
    ------
    ArgumentError
        Layers of each kind that do not pair up, shapes that do not match (the error names
        both sides), leaves or collections without a portconv counterpart, transposed
        convolutions.
    """
    _require_module(model, "Flax")
    ours = _our_layers(model, "Flax")
    _transposed(ours)
    pairs = _pair(ours, _flax_layers(variables), "Flax")
    kernels = {prefix: leaves.get("kernel") for (prefix, _, _), (_, _, leaves) in pairs}

    def shape_of(prefix: str, m: Module) -> tuple:
        k = np.shape(kernels[prefix])  # Flax's (*kernel, C_in/g, C_out) or (in, out)
        return (k[-1], k[-2]) + tuple(k[:-2]) if len(k) > 2 else (k[1], k[0])

    flat: dict = {}
    state: OrderedDict = OrderedDict()
    for (prefix, kind, m), (path, _, leaves) in pairs:  # convolutions first, then the rest
        if kind != "conv" and not flat:  # the convolutions' shapes are checked by now
            flat = _flatten_spatial(ours, shape_of, flatten_shape) or {None: ()}
        names = _FLAX_LEAVES[kind]
        mine = {local: leaf for leaf, local in names.items() if leaf in leaves}
        missing = [n for n in list(m._params) + list(m._buffers) if n not in mine]
        if missing:
            raise ArgumentError(
                f"{prefix}{missing[0]}: the Flax layer {path!r} has no "
                f"{next(k for k, v in names.items() if v == missing[0])} (it has "
                f"{', '.join(leaves)})"
            )
        for local, leaf in mine.items():
            if local not in m._params and local not in m._buffers:
                raise ArgumentError(
                    f"Flax {path}/{leaf}: {prefix.rstrip('.')} ({type(m).__name__}) has no {local}"
                )
            value = _to_numpy(f"{path}/{leaf}", leaves[leaf])
            value = _flax_to_ours(kind, local, value, flat.get(prefix))
            want = _expected_shape(m, local, kind)
            if not _shape_ok(want, value.shape):
                raise ArgumentError(
                    f"Flax {path}/{leaf} of shape {tuple(np.shape(leaves[leaf]))} -> "
                    f"{prefix}{local}: portconv expects {_fmt(want)} (read in portconv's "
                    f"layout as {tuple(value.shape)}; Flax's layers are paired with the "
                    f"model's by order within each kind of layer)"
                )
            state[prefix + local] = value
    return state


def load_flax_params(model: Module, variables: Any, *, flatten_shape: Any = None) -> Module:
    """Load Flax (JAX) parameters into ``model``.

    Flax's ``nn.Conv`` keeps ``kernel`` as ``(*kernel, C_in/groups, C_out)`` (HWIO) and
    ``bias``; ``nn.Dense`` ``kernel`` as ``(in, out)``; ``nn.BatchNorm`` ``scale`` and
    ``bias`` in ``params`` and ``mean`` and ``var`` in ``batch_stats``. They become portconv's
    ``(C_out, C_in/groups, *kernel)``, ``(out, in)``, ``weight``/``bias`` and
    ``running_mean``/``running_var``. Flax's model runs channels last and portconv's channels
    first, so the first dense layer after a convolution, which takes the flattened feature
    map, has its inputs reordered from ``(*spatial, C)`` to ``(C, *spatial)``. Layers are
    paired by order within each kind (convolution, dense, batch norm), in the order of the
    Flax tree (auto-named ``Conv_2`` before ``Conv_10``); names do not matter.

    Parameters
    ----------
    model : Module
        A portconv model of the same structure; parameters it has not created yet (lazy
        layers before a first call) are created from the values, as with
        :meth:`~portconv.nn.Module.load_state_dict`.
    variables : dict
        As :func:`flax_to_state_dict`.
    flatten_shape : tuple of int, optional
        As :func:`flax_to_state_dict`.

    Returns
    -------
    Module
        ``model``, holding the values (in its own library, on its device).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn, porting
    >>> model = nn.Sequential(nn.LazyConv2d(2, 3), nn.Flatten(), nn.LazyLinear(4))
    >>> x = np.ones((1, 1, 4, 4), np.float32)
    >>> _ = model(x)  # creates the parameters
    >>> flax = porting.export_flax_params(model)
    >>> flax["params"]["layers_0"]["kernel"].shape  # HWIO
    (3, 3, 1, 2)
    >>> fresh = porting.load_flax_params(
    ...     nn.Sequential(nn.LazyConv2d(2, 3), nn.Flatten(), nn.LazyLinear(4)), flax
    ... )
    >>> bool(np.allclose(fresh(x).data, model(x).data))
    True
    """
    model.load_state_dict(
        flax_to_state_dict(model, variables, flatten_shape=flatten_shape), strict=True
    )
    return model


def flax_names(model: Module) -> OrderedDict:
    """portconv name -> ``(collection, path, leaf)`` in the Flax model the book's JAX edition
    would write for ``model``: a ``Sequential``'s child ``i`` is Flax's ``nn.Sequential``
    entry ``layers_i`` (the book's JAX models list activations, pooling and reshapes as
    entries too, as portconv's Sequentials hold them as layers), other modules keep their
    attribute names, and leaves are ``kernel``/``bias``, or ``scale``/``bias`` and
    ``mean``/``var`` (in ``batch_stats``) for batch norms."""
    _require_module(model)
    out: OrderedDict = OrderedDict()

    def walk(m: Module, ours: str, path: tuple) -> None:
        kind = _our_kind(m)
        if kind is not None:
            for leaf, local in _FLAX_LEAVES[kind].items():
                if local in m._params or local in m._buffers:
                    collection = "batch_stats" if leaf in _FLAX_STATS else "params"
                    out[ours + local] = (collection, path, leaf)
        for cname, child in m._children.items():
            if child is None:
                continue
            key = f"layers_{cname}" if isinstance(m, Sequential) else cname
            walk(child, f"{ours}{cname}.", path + (key,))

    walk(model, "", ())
    return out


def export_flax_params(
    model: Module, like: Any = None, *, backend: str = "numpy", flatten_shape: Any = None
) -> dict:
    """``model``'s parameters as Flax variables, ``{"params": ..., "batch_stats": ...}``,
    for ``flax_model.apply(variables, x)`` (layouts as :func:`load_flax_params` describes,
    the other way).

    Parameters
    ----------
    model : Module
        A portconv model whose parameters exist.
    like : dict, optional
        The Flax model's own variables (``flax_model.init(...)``): the result has their tree,
        layers paired with the model's by order within each kind and checked shape by shape.
        Without it, the tree follows :func:`flax_names`.
    backend : str
        The library of the arrays returned: ``"numpy"`` (default) or ``"jax"`` (any name of
        :func:`portconv.backend_names`).
    flatten_shape : tuple of int, optional
        As :func:`flax_to_state_dict`.

    Returns
    -------
    dict
        Nested dicts of arrays; ``"batch_stats"`` only where the model has batch norms.
    """
    from ._dispatch import asarray, backend_of

    _require_module(model, "Flax")
    state = model.state_dict()
    if not state:
        raise ArgumentError(
            f"{type(model).__name__} has no parameters yet: call it once on an input (or use "
            f"layer_summary) so that its lazy layers create them"
        )
    host = OrderedDict((n, np.asarray(backend_of(v).adapter.to_numpy(v))) for n, v in state.items())
    ours = _our_layers(model, "Flax")
    _transposed(ours)
    flat = _flatten_spatial(ours, lambda prefix, m: host[prefix + "weight"].shape, flatten_shape)
    kinds = {prefix: kind for prefix, kind, _ in ours}
    where: OrderedDict = OrderedDict()  # portconv name -> (collection, path, leaf)
    if like is None:
        where.update(flax_names(model))
    else:
        for (prefix, kind, m), (path, _, leaves) in _pair(ours, _flax_layers(like), "Flax"):
            for leaf, local in _FLAX_LEAVES[kind].items():
                if local not in m._params and local not in m._buffers:
                    continue
                if leaf not in leaves:
                    raise ArgumentError(
                        f"{prefix}{local}: the Flax layer {path!r} has no {leaf} (it has "
                        f"{', '.join(leaves)})"
                    )
                collection = "batch_stats" if leaf in _FLAX_STATS else "params"
                where[prefix + local] = (collection, tuple(path.split("/")) if path else (), leaf)
                value = _ours_to_flax(kind, local, host[prefix + local], flat.get(prefix))
                theirs = tuple(np.shape(leaves[leaf]))
                if theirs != value.shape:
                    raise ArgumentError(
                        f"{prefix}{local} of shape {host[prefix + local].shape} -> Flax "
                        f"{path}/{leaf}: Flax expects {theirs} (portconv's value in Flax's "
                        f"layout is {value.shape})"
                    )
    out: dict = {}
    for name, value in host.items():
        prefix, _, local = name.rpartition(".")
        prefix = prefix + "." if prefix else ""
        collection, path, leaf = where[name]
        node = out.setdefault(collection, {})
        for key in path:
            node = node.setdefault(key, {})
        converted = _ours_to_flax(kinds[prefix], local, value, flat.get(prefix))
        node[leaf] = asarray(converted, backend)
    return out
