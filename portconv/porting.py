"""Weights between portconv and the frameworks the book uses: PyTorch, MXNet Gluon, JAX's
Flax and Keras.

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

Keras. portconv's Keras layers (:mod:`portconv.nn.keras`) hold Keras's own layouts, so
Keras weight files need no transposing. :func:`load_keras_weights` reads Keras 3's
``.weights.h5`` (each layer's variables at a path that follows the model's structure; see
:func:`keras_names`) and the legacy Keras 2 / ``tf.keras`` HDF5 layout (by layer order, as
Keras reads it); :func:`save_keras_weights` writes the Keras 3 layout. Both need h5py.
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
    "keras_names",
    "keras_to_state_dict",
    "load_keras_weights",
    "save_keras_weights",
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


def _flax_named(model: Any) -> bool:
    """Whether ``model`` is built from :mod:`portconv.nn.flax`'s layers (the JAX edition's
    models): already in Flax's layouts and names, converted by that module's own functions."""
    from .nn import flax as _nn_flax

    kinds = (_nn_flax.Conv, _nn_flax.Dense, _nn_flax.BatchNorm)
    return isinstance(model, Module) and any(isinstance(m, kinds) for m in model.modules())


def _no_flatten_shape(flatten_shape: Any) -> None:
    if flatten_shape is not None:
        raise ArgumentError(
            f"flatten_shape: a model of portconv.nn.flax's layers flattens channels last, as "
            f"Flax does (nothing to reorder); give None, got {flatten_shape!r}"
        )


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

    A model of :mod:`portconv.nn.flax`'s layers (:mod:`portconv.models.flax`) is already in
    Flax's layouts and names: its variables load name for name, as
    :func:`portconv.nn.flax.load_variables` does.
    """
    if _flax_named(model):
        from .nn import flax as _nn_flax

        _no_flatten_shape(flatten_shape)
        return _nn_flax.load_variables(model, variables)
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


def _export_flax_named(model: Module, like: Any, backend: str, flatten_shape: Any) -> dict:
    """:func:`export_flax_params` for a model of :mod:`portconv.nn.flax`'s layers: its own
    tree (:func:`portconv.nn.flax.variables`), checked against ``like``'s where given."""
    from .nn import flax as _nn_flax

    _no_flatten_shape(flatten_shape)
    out = _nn_flax.variables(model, backend=backend)
    if like is not None:
        ours, theirs = {}, {}
        for tree, flat in ((out, ours), (like, theirs)):
            stack = [((), tree)]
            while stack:
                path, node = stack.pop()
                if isinstance(node, Mapping):
                    stack.extend((path + (str(k),), v) for k, v in node.items())
                else:
                    flat["/".join(path)] = tuple(np.shape(node))
        if ours != theirs:
            missing = sorted(set(theirs) - set(ours))[:3]
            extra = sorted(set(ours) - set(theirs))[:3]
            shapes = [k for k in ours if k in theirs and ours[k] != theirs[k]][:3]
            raise ArgumentError(
                f"like: the Flax variables differ from the model's: missing here {missing}, "
                f"not in like {extra}, other shapes {[(k, ours[k], theirs[k]) for k in shapes]}"
            )
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

    if _flax_named(model):
        return _export_flax_named(model, like, backend, flatten_shape)
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


# -- Keras -------------------------------------------------------------------------------------

_KERAS_INSTALL = 'Keras weight files need h5py: pip install "portconv[keras]" (or h5py)'


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError(_KERAS_INSTALL) from None
    return h5py


def _snake(name: str) -> str:
    """A class name as Keras names a layer's group: ``"MaxPooling2D"`` -> ``"max_pooling2d"``,
    ``"ReLU"`` -> ``"re_lu"`` (a word starts at a capital followed by a lower-case letter or a
    digit, and at a capital right after a lower-case letter)."""
    out = []
    for i, ch in enumerate(name):
        prev = name[i - 1] if i else ""
        nxt = name[i + 1] if i + 1 < len(name) else ""
        starts_word = ch.isupper() and (
            (prev and (nxt.islower() or nxt.isdigit())) or prev.islower()
        )
        out.append(("_" if starts_word else "") + ch.lower())
    return "".join(out)


def _keras_vars(m: Module) -> tuple[str, ...] | None:
    """The variables of a Keras layer in Keras's order (its file's ``vars/0``, ``vars/1``,
    ...), or None for a module that is not a Keras layer with variables."""
    from .nn import keras as K

    if isinstance(m, (K.Conv2D, K.Dense)):
        order: tuple[str, ...] = ("kernel", "bias")
    elif isinstance(m, K.BatchNormalization):
        order = ("gamma", "beta", "moving_mean", "moving_variance")
    else:
        return None
    return tuple(n for n in order if n in m._params or n in m._buffers)


def _keras_class(m: Module) -> str:
    return type(m).summary_name or type(m).__name__


def _keras_list_attrs() -> dict[type, dict[str, str]]:
    """portconv modules whose Sequential child the book's TensorFlow edition keeps as a plain
    Python list attribute (saved by Keras as that list, without a ``layers`` level)."""
    from .models import keras as km

    return {km.DenseBlock: {"net": "listLayers"}}


def _keras_walk(model: Module) -> list[tuple[str, str, Module]]:
    """Every module of ``model`` as ``(portconv prefix, Keras path, module)``, in the order
    Keras visits the layers it saves (see :func:`keras_names`)."""
    _require_module(model)
    lists = _keras_list_attrs()
    out: list[tuple[str, str, Module]] = []
    seen: set[int] = set()

    def join(path: str, part: str) -> str:
        return f"{path}/{part}" if path else part

    def container(children: list, prefix: str, path: str) -> None:
        used: dict[str, int] = {}
        for cname, child in children:
            base = _snake(_keras_class(child))
            n = used.get(base, -1) + 1
            used[base] = n
            visit(child, f"{prefix}{cname}.", join(path, base if n == 0 else f"{base}_{n}"))

    def visit(m: Module, prefix: str, path: str) -> None:
        if id(m) in seen:  # Keras saves an object once, where it first meets it
            return
        seen.add(id(m))
        out.append((prefix, path, m))
        children = [(n, c) for n, c in m._children.items() if c is not None]
        if isinstance(m, Sequential):
            container(children, prefix, join(path, "layers"))
            return
        renamed = lists.get(type(m), {})
        # a keras.Model subclass: its attributes in sorted order ('_' ones last), its
        # tracked layers under "layers" at that name's place (those not met before it)
        order = sorted(
            [(renamed.get(n, n), n, c) for n, c in children] + [("layers", None, None)],
            key=lambda t: ("~" + t[0]) if t[0].startswith("_") else t[0],
        )
        for key, cname, child in order:
            if cname is None:  # a list attribute is not a tracked layer of the model
                tracked = [(n, c) for n, c in children if n not in renamed]
                container(tracked, prefix, join(path, "layers"))
            elif cname in renamed and isinstance(child, Sequential):
                seen.add(id(child))
                inner = [(n, c) for n, c in child._children.items() if c is not None]
                container(inner, f"{prefix}{cname}.", join(path, key))
            else:
                visit(child, f"{prefix}{cname}.", join(path, key))

    visit(model, "", "")
    return out


def _keras_layers(model: Module) -> list[tuple[str, str, Module, tuple[str, ...]]]:
    """The layers with variables: ``(portconv prefix, Keras path, module, variable names)``."""
    out = []
    for prefix, path, m in _keras_walk(model):
        names = _keras_vars(m)
        if names:
            out.append((prefix, path, m, names))
        elif m._params or m._buffers:
            raise ArgumentError(
                f"{prefix.rstrip('.') or type(m).__name__} ({type(m).__name__}): a layer with "
                f"parameters that is not one of portconv.nn.keras's (Conv2D, Dense, "
                f"BatchNormalization); Keras weight files map those only"
            )
    return out


def keras_names(model: Module) -> OrderedDict:
    """portconv name -> the dataset that holds it in a Keras 3 ``.weights.h5`` file written
    by the Keras model the book's TensorFlow edition would write for ``model``.

    Keras saves each layer's variables, in its own order (``kernel``, ``bias``; ``gamma``,
    ``beta``, ``moving_mean``, ``moving_variance``), as ``<path>/vars/0``, ``vars/1``, ...,
    where ``<path>`` follows the model's structure, not the layers' auto-generated names:

    - the layers of a ``Sequential`` sit under ``layers/``, each named by its class in
      snake case, numbered within the Sequential from the second of a class on
      (``layers/conv2d``, ``layers/conv2d_1``, ``layers/max_pooling2d``);
    - the layers of a subclassed model are its attribute names (``conv1``, ``bn1``), in
      sorted order; a ``keras.Model`` subclass also lists its layers under ``layers/``, at
      that name's place in the order, so an attribute that sorts after ``layers`` (the
      book's ``self.net``) is saved there instead (``layers/sequential/...``);
    - a plain list attribute (the book's ``DenseBlock.listLayers``, portconv's
      ``DenseBlock.net``) is numbered as a Sequential's layers, without ``layers/``.

    Parameters
    ----------
    model : Module
        A model of :mod:`portconv.nn.keras` layers (:mod:`portconv.models.keras`, or a
        :class:`~portconv.nn.Sequential` of them, which is a Keras ``Sequential`` at the root).

    Returns
    -------
    OrderedDict
        portconv name (``"net.0.kernel"``) -> dataset path (``"layers/sequential/layers/
        conv2d/vars/0"``), in Keras's order.

    Raises
    ------
    ArgumentError
        A layer with parameters that is not one of :mod:`portconv.nn.keras`'s.

    Examples
    --------
    >>> from portconv import nn, porting
    >>> from portconv.nn import keras
    >>> model = nn.Sequential(keras.Conv2D(4, 3), keras.Flatten(), keras.Dense(2))
    >>> for ours, theirs in porting.keras_names(model).items():
    ...     print(ours, "->", theirs)
    0.kernel -> layers/conv2d/vars/0
    0.bias -> layers/conv2d/vars/1
    2.kernel -> layers/dense/vars/0
    2.bias -> layers/dense/vars/1
    """
    out: OrderedDict = OrderedDict()
    for prefix, path, _, names in _keras_layers(model):
        for i, local in enumerate(names):
            out[prefix + local] = f"{path}/vars/{i}"
    return out


def _keras_expected(m: Module, local: str) -> tuple:
    """The shape ``m`` expects for ``local`` (None where the first input decides)."""
    value = m._params.get(local) if local in m._params else m._buffers.get(local)
    if value is not None:
        return tuple(value.shape)
    if local in m._params:
        return tuple(m._shapes[local])
    for name in ("gamma", "beta", "moving_mean"):  # a batch norm: one value per feature
        other = m._params.get(name) if name in m._params else m._buffers.get(name)
        if other is not None:
            return tuple(other.shape)
    return (None,)


def _read_dataset(f: Any, path: str, where: str) -> np.ndarray:
    h5py = _h5py()
    node = f.get(path)
    if not isinstance(node, h5py.Dataset):
        raise FileFormatError(f"{where}: {path} is not an array")
    value = np.array(node[()])  # a new array: nothing of the file is kept
    if value.dtype.kind != "f":
        raise FileFormatError(f"{where}: {path} holds dtype {value.dtype}, not floating point")
    return value


def _keras3_state(f: Any, model: Module, where: str) -> OrderedDict:
    h5py = _h5py()
    state: OrderedDict = OrderedDict()
    read: set[str] = set()
    for prefix, path, m, names in _keras_layers(model):
        group = f.get(f"{path}/vars")
        label = f"{prefix.rstrip('.') or type(m).__name__} ({type(m).__name__})"
        if not isinstance(group, h5py.Group):
            top = ", ".join(sorted(f.keys())) or "nothing"
            hint = (
                "; the file may hold a keras.Sequential: load it into model.net"
                if "net" in model._children and f"{path}".startswith("layers/sequential/")
                else ""
            )
            raise ArgumentError(
                f"{where}: no weights for {label} at {path}/vars (the file's top level holds "
                f"{top}){hint}"
            )
        found = sorted(group.keys(), key=lambda k: (len(k), k))
        if found != [str(i) for i in range(len(names))]:
            raise ArgumentError(
                f"{where}: {path}/vars holds {len(found)} arrays ({', '.join(found) or 'none'})"
                f", but {label} has {len(names)} ({', '.join(names)})"
            )
        for i, local in enumerate(names):
            value = _read_dataset(f, f"{path}/vars/{i}", where)
            want = _keras_expected(m, local)
            if not _shape_ok(want, value.shape):
                raise ArgumentError(
                    f"{where}: {path}/vars/{i} of shape {tuple(value.shape)} -> "
                    f"{prefix}{local} ({type(m).__name__}): portconv expects {_fmt(want)}"
                )
            state[prefix + local] = value
        read.add(path)
    left = []

    def look(name: str, node: Any) -> None:
        if not (isinstance(node, h5py.Group) and name.split("/")[-1] == "vars" and len(node)):
            return
        owner = name[: -len("/vars")] if name != "vars" else ""
        parts = owner.split("/")
        if owner in read or parts[0] == "optimizer" or "seed_generator" in parts[-1]:
            return
        left.append(owner or "(the model itself)")

    f.visititems(look)
    if left:
        raise ArgumentError(
            f"{where}: holds weights that {type(model).__name__} has no layer for: "
            f"{', '.join(left)} (is it the same architecture?)"
        )
    return state


def _decode(names: Any) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in np.atleast_1d(names)]


def _legacy_tops(model: Module) -> list[tuple[str, Module]]:
    """The Keras model's top-level layers (``model.layers``): a Sequential's layers, or a
    subclassed model's attributes in the order they were set."""
    return [(n, c) for n, c in model._children.items() if c is not None]


def _legacy_state(f: Any, model: Module, where: str) -> OrderedDict:
    """The legacy layout (Keras 2 / tf.keras ``save_weights("x.h5")``, and ``model_weights``
    of a whole-model ``.h5``): the top-level layers with weights, in order, each with its
    weights listed trainable first (every kernel, bias, gamma and beta of the layer and of
    the layers inside it, depth first), then the moving statistics."""
    root = f.get("model_weights", f)
    file_layers = []
    for name in _decode(root.attrs["layer_names"]):
        group = root.get(name)
        weights = _decode(group.attrs.get("weight_names", [])) if group is not None else []
        weights = [w for w in weights if w]
        if weights:
            file_layers.append((name, group, weights))
    ours = []
    for cname, top in _legacy_tops(model):
        trainable, stats = [], []
        for prefix, _, m, names in _keras_layers_of(top, f"{cname}."):
            for local in names:
                (trainable if local in m._params else stats).append((prefix, local, m))
        if trainable or stats:
            ours.append((cname, top, trainable + stats))
    if len(ours) != len(file_layers):
        raise ArgumentError(
            f"{where}: holds {len(file_layers)} top-level layers with weights "
            f"({', '.join(n for n, _, _ in file_layers) or 'none'}), but {type(model).__name__} "
            f"has {len(ours)} ({', '.join(n for n, _, _ in ours) or 'none'})"
        )
    state: OrderedDict = OrderedDict()
    for (cname, top, slots), (lname, group, weights) in zip(ours, file_layers):
        if len(slots) != len(weights):
            raise ArgumentError(
                f"{where}: layer {lname!r} holds {len(weights)} weights, but {cname} "
                f"({type(top).__name__}) has {len(slots)}"
            )
        for (prefix, local, m), wname in zip(slots, weights):
            value = _read_dataset(group, wname, f"{where}: layer {lname!r}")
            want = _keras_expected(m, local)
            if not _shape_ok(want, value.shape):
                raise ArgumentError(
                    f"{where}: {lname}/{wname} of shape {tuple(value.shape)} -> {prefix}{local} "
                    f"({type(m).__name__}): portconv expects {_fmt(want)} (legacy files are "
                    f"read by the order of the layers)"
                )
            state[prefix + local] = value
    return state


def _keras_layers_of(m: Module, prefix: str) -> list:
    return [(prefix + p, path, mod, names) for p, path, mod, names in _keras_layers(m)]


def keras_to_state_dict(model: Module, path: str | os.PathLike) -> OrderedDict:
    """The state dict (portconv's names, NumPy arrays) that the Keras weight file at
    ``path`` becomes for ``model``, every shape checked (see :func:`load_keras_weights`)."""
    _require_module(model)
    h5py = _h5py()
    where = check_readable(path, "path")
    try:
        f = h5py.File(where, "r")
    except OSError as exc:
        raise FileFormatError(
            f"path: {where} is not a readable HDF5 file ({str(exc).splitlines()[0]})"
        ) from None
    with f:
        legacy = "layer_names" in f.attrs or (
            "model_weights" in f and "layer_names" in f["model_weights"].attrs
        )
        if legacy:
            return _legacy_state(f, model, where)
        return _keras3_state(f, model, where)


def load_keras_weights(model: Module, path: str | os.PathLike) -> Module:
    """Load a Keras weight file into ``model``, a model of :mod:`portconv.nn.keras` layers.

    Two layouts are read:

    - Keras 3's ``.weights.h5`` (``keras_model.save_weights("x.weights.h5")``, TensorFlow
      2.16 and later): each layer's variables sit at a path that follows the model's
      structure (see :func:`keras_names`), so portconv finds every layer where the book's
      TensorFlow edition's model of the same structure puts it;
    - the legacy HDF5 layout of Keras 2 / ``tf.keras`` (``save_weights("x.h5")``, or the
      ``model_weights`` of a whole-model ``.h5``): read as Keras reads it, by the order of
      the top-level layers with weights and, within each, trainable weights first, then the
      batch norms' moving statistics.

    Keras's layouts are portconv's (kernels ``(kh, kw, C_in, filters)``, dense kernels
    ``(in, units)``, ``gamma``/``beta``/``moving_mean``/``moving_variance``), so values are
    copied as they are, then follow the model's library, device and dtype.

    Parameters
    ----------
    model : Module
        The model; lazy layers that have not run yet are built from the file's shapes.
    path : str or os.PathLike
        The file.

    Returns
    -------
    Module
        ``model``.

    Raises
    ------
    ArgumentError
        A layer missing from the file, a count or shape that does not match (the error names
        the layer, the shape found and the shape expected), or weights in the file that the
        model has no layer for. Nothing is loaded then: every array is read and checked
        before the model changes.
    FileFormatError, MissingFileError
        Not an HDF5 file; no such file.
    ImportError
        h5py is not installed (``pip install "portconv[keras]"``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from portconv import nn, porting
    >>> from portconv.nn import keras
    >>> def build():
    ...     return nn.Sequential(keras.Conv2D(4, 3), keras.Flatten(), keras.Dense(2))
    >>> model, x = build(), np.ones((1, 5, 5, 3), np.float32)
    >>> _ = model(x)  # creates the parameters
    >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> import importlib.util
    >>> if importlib.util.find_spec("h5py"):  # needs h5py: pip install "portconv[keras]"
    ...     porting.save_keras_weights(model, path)
    ...     fresh = porting.load_keras_weights(build(), path)
    ...     assert np.allclose(fresh(x).data, model(x).data)
    """
    model.load_state_dict(keras_to_state_dict(model, path), strict=True)
    return model


def save_keras_weights(model: Module, path: str | os.PathLike) -> None:
    """Write ``model``'s weights as Keras 3's ``.weights.h5`` file, for
    ``keras_model.load_weights(path)`` on the Keras model of the same structure (the book's
    TensorFlow edition's; paths as :func:`keras_names` describes).

    Every module gets its group and ``vars`` (empty for layers without variables), as
    Keras writes them; the file is written to a temporary file beside ``path`` and renamed
    over it, so a reader never finds a part of one.

    Parameters
    ----------
    model : Module
        A model of :mod:`portconv.nn.keras` layers whose parameters exist (call it once).
    path : str or os.PathLike
        The file; its name must end in ``.weights.h5``, the only name under which Keras
        reads this layout.

    Raises
    ------
    ArgumentError
        A name that does not end in ``.weights.h5``; a model without parameters yet; a layer
        with parameters that is not one of :mod:`portconv.nn.keras`'s.
    FileAccessError
        The directory cannot be written.
    ImportError
        h5py is not installed (``pip install "portconv[keras]"``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from portconv import nn, porting
    >>> from portconv.nn import keras
    >>> model = nn.Sequential(keras.Conv2D(4, 3), keras.Flatten(), keras.Dense(2))
    >>> _ = model(np.ones((1, 5, 5, 3), np.float32))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> import importlib.util
    >>> if importlib.util.find_spec("h5py"):  # needs h5py: pip install "portconv[keras]"
    ...     porting.save_keras_weights(model, path)
    ...     assert porting.keras_to_state_dict(model, path)["0.kernel"].shape == (3, 3, 3, 4)
    """
    from ._dispatch import backend_of
    from ._files import path_argument
    from .autograd import Variable

    _require_module(model)
    text = path_argument(path, "path")
    if not text.endswith(".weights.h5"):
        raise ArgumentError(
            f"path: Keras reads its weights layout only from a file named '*.weights.h5' "
            f"(a '.h5' is read as the legacy layout), got {text!r}"
        )
    h5py = _h5py()
    walk = _keras_walk(model)
    layers = _keras_layers(model)
    missing = [
        f"{prefix}{local}"
        for prefix, _, m, names in layers
        for local in names
        if (m._params.get(local) if local in m._params else m._buffers.get(local)) is None
    ]
    if missing or not layers:
        raise ArgumentError(
            f"{type(model).__name__} has no parameters yet"
            + (
                f" ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
                if missing
                else ""
            )
            + ": call it once on an input (or use layer_summary) so that its lazy layers "
            "create them"
        )
    arrays = {}
    for prefix, _, m, names in layers:
        for local in names:
            v = m._params[local] if local in m._params else m._buffers[local]
            data = v.data if isinstance(v, Variable) else v  # a parameter, or a buffer's array
            arrays[prefix + local] = np.asarray(backend_of(data).adapter.to_numpy(data))
    with atomic_path(path, what="path") as tmp, h5py.File(tmp, "w") as f:
        for prefix, where, m in walk:
            group = f.require_group(f"{where}/vars" if where else "vars")
            group.attrs["name"] = where.rsplit("/", 1)[-1] if where else _snake(_keras_class(m))
            for i, local in enumerate(_keras_vars(m) or ()):
                group.create_dataset(str(i), data=arrays[prefix + local])
