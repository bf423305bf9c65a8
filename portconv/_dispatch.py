"""Which adapter owns these arrays.

Adapters come from the ``portconv.backends`` entry-point group (the built-in ones register
themselves there too; when portconv runs from an installation whose metadata lacks them, the
built-in list below is the fallback). Ownership is decided per array type and cached; the
cache and the adapter list are safe to use from several threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .backends import Adapter
from .errors import ArgumentError, ArrayTypeError, BackendUnavailableError, describe_type

_BUILTIN = {
    "numpy": "portconv.backends.numpy:NumPyAdapter",
    "torch": "portconv.backends.torch:TorchAdapter",
    "mxnet": "portconv.backends.mxnet:MXNetAdapter",
    "cupy": "portconv.backends.cupy:CuPyAdapter",
    "array_api_strict": "portconv.backends.array_api_strict:ArrayAPIStrictAdapter",
    "dask": "portconv.backends.dask:DaskAdapter",
    "jax": "portconv.backends.jax:JaxAdapter",
}

_lock = threading.RLock()
_adapters: dict[str, Adapter] | None = None
_owner_by_type: dict[type, Adapter] = {}

_SCALARS = (bool, int, float, complex)


def _load(target: str) -> Adapter:
    module, _, attr = target.partition(":")
    cls = getattr(__import__(module, fromlist=[attr]), attr)
    return cls()


def adapters() -> dict[str, Adapter]:
    """All registered adapters by name (loading them never imports their array library)."""
    global _adapters
    if _adapters is None:
        with _lock:
            if _adapters is None:
                found: dict[str, Adapter] = {}
                for ep in metadata.entry_points(group="portconv.backends"):
                    if ep.name not in found:
                        obj = ep.load()
                        found[ep.name] = obj() if isinstance(obj, type) else obj
                for name, target in _BUILTIN.items():
                    if name not in found:
                        found[name] = _load(target)
                # the built-in ones first, in their order (what listings and reports show),
                # then third parties' in the order their entry points came
                order = list(_BUILTIN) + [n for n in found if n not in _BUILTIN]
                _adapters = {n: found[n] for n in order}
    return _adapters


def register(adapter: Adapter) -> None:
    """Register an adapter at run time (entry points are the usual way)."""
    with _lock:
        table = dict(adapters())
        table[adapter.name] = adapter
        globals()["_adapters"] = table
        _owner_by_type.clear()


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name`` ("numpy", "torch", "mxnet", ...)."""
    table = adapters()
    if name not in table:
        raise BackendUnavailableError(
            f"backend: no adapter named {name!r}; registered: {', '.join(sorted(table))}"
        )
    return table[name]


def backend_names() -> list[str]:
    """Every backend name arrays can be made for: each registered adapter's ``targets``
    (``"numpy"``, ``"torch"``, ``"mxnet"``, ``"mxnet.nd"`` for MXNet's legacy NDArrays, ...),
    in registration order. The CLI, the data loaders, the examples, the conformance runner
    and the tests take their list of backends from here."""
    names: list[str] = []
    for adapter in adapters().values():
        for target in adapter.targets or (adapter.name,):
            if target not in names:
                names.append(target)
    return names


def resolve(name: str) -> tuple[Adapter, str]:
    """``(adapter, variant)`` for a backend name or variant (``"mxnet.nd"`` -> the MXNet
    adapter and ``"mxnet.nd"``); an unknown name raises naming the known ones."""
    if isinstance(name, str):
        for adapter in adapters().values():
            if name == adapter.name or name in adapter.targets:
                return adapter, name
    raise BackendUnavailableError(
        f"backend: expected one of {', '.join(backend_names())}, got {name!r}"
    )


def asarray(host: Any, backend: str = "numpy", device: Any = None) -> Any:
    """A new array of ``backend`` (a name or variant, see :func:`backend_names`) holding the
    values of ``host`` (anything NumPy can read), on ``device`` (None: the default)."""
    import numpy as np

    adapter, variant = resolve(backend)
    return adapter.import_numpy(np.asarray(host), device, variant)


def _owner(x: Any) -> Adapter | None:
    t = type(x)
    ad = _owner_by_type.get(t)
    if ad is not None:
        return ad
    for candidate in adapters().values():
        if candidate.owns(x):
            _owner_by_type[t] = candidate
            return candidate
    return None


@dataclass(frozen=True)
class Backend:
    """What :func:`backend_of` returns: the adapter of the arrays, and their device."""

    adapter: Adapter
    device: Any

    @property
    def name(self) -> str:
        return self.adapter.name

    @property
    def version(self) -> str:
        return self.adapter.version

    @property
    def namespace(self) -> Any:
        return self.adapter.namespace()

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, version={self.version!r}, device={self.device!r})"


def _is_scalar(x: Any) -> bool:
    if isinstance(x, _SCALARS):
        return True
    import numpy as np

    return isinstance(x, np.generic)


def backend_of(*arrays: Any) -> Backend:
    """The backend of the arrays: one library's adapter and the arrays' device.

    ``None`` and Python scalars are ignored. Arrays of two libraries raise ``TypeError``
    naming both, unless one library absorbs the other (a Dask input with NumPy weights is a
    Dask call; see ``Adapter.absorbs``); arrays of one library on two devices raise
    ``ValueError`` naming both devices; an object that is no array of a registered library
    raises ``TypeError`` naming its type. An array whose adapter gives no device (a JAX
    tracer, placed by its transformation) goes with any device; the device is then that of
    the concrete arrays, or None when every array is traced.
    """
    owner: Adapter | None = None
    first: Any = None
    device: Any = None
    for x in arrays:
        if x is None or _is_scalar(x):
            continue
        ad = _owner(x)
        if ad is None:
            raise ArrayTypeError(
                f"expected an array of one of {', '.join(sorted(adapters()))}, "
                f"got an object of type {describe_type(x)}"
            )
        if owner is None:
            owner, first, device = ad, x, ad.device(x)
        elif ad is not owner and owner.absorbs(ad):
            continue
        elif ad is not owner and ad.absorbs(owner):
            owner, first, device = ad, x, ad.device(x)
        elif ad is not owner:
            raise ArrayTypeError(
                f"arrays of two libraries in one call: {owner.name} "
                f"({describe_type(first)}) and {ad.name} ({describe_type(x)}); "
                f"move one of them to the other's library first"
            )
        else:
            other = ad.device(x)
            if other is None:  # a traced array (JAX): its transformation places it
                continue
            if device is None:
                device = other
            elif other is not device and str(other) != str(device):
                raise ArgumentError(
                    f"arrays on two devices in one call: {device} and {other} ({owner.name}); "
                    f"move them to one device first"
                )
    if owner is None:
        raise ArrayTypeError("expected at least one array argument, got none")
    return Backend(owner, device)
