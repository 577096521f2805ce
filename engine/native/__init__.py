"""Native C++ runtime for Larq Compute Engine flatbuffers, with per-op profiling.

It runs the same ``.tflite`` files as LCE's interpreter and gives the same outputs, with
x86-64 kernels (AVX-512 VPOPCNTDQ, AVX2, portable C++) chosen at run time by CPU
features; ``LCE_NAS_NATIVE_PORTABLE=1`` forces the portable kernels.

Whether the engine is usable is decided in one place, :func:`extension`
(:func:`is_available` for a yes/no). Its version in latency keys,
:func:`engine_version`, carries the kernel set and the digest of the sources
the extension was compiled from, so a changed kernel never reuses old latencies.

Example:
    >>> from lce_nas.engine import native
    >>> model = native.load("quicknet_small.tflite", num_threads=1)  # doctest: +SKIP
    >>> model.run(np.zeros((1, 224, 224, 3), np.float32)).shape  # doctest: +SKIP
    (1, 1000)
"""

from __future__ import annotations

import importlib
import os
from collections import Counter
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from lce_nas.engine.native.plan import MAX_MODEL_BYTES, NativeModelError, Plan, read_plan
from lce_nas.engine.tflite_info import model_bytes

from lce_nas.errors import UserError

__all__ = [
    "ENGINE_NAME",
    "MAX_MODEL_BYTES",
    "NativeModel",
    "NativeModelError",
    "NativeUnavailable",
    "OpProfile",
    "available_kernels",
    "compiled_source_digest",
    "engine_version",
    "extension",
    "fma_peak_macs_per_s",
    "is_available",
    "load",
    "popcount_peak_macs_per_s",
]

ENGINE_NAME = "native"
__version__ = "0.1.0"
# Hex digits of the source digest shown in a version: collisions are out of reach.
DIGEST_CHARS = 12

# What the extension raises on a model it refuses: ValueError from its checks;
# the others only if a check were missing, and still a refusal, never a traceback.
_EXTENSION_ERRORS = (ValueError, IndexError, MemoryError, OverflowError, RuntimeError, TypeError)


class NativeUnavailable(UserError):
    """The compiled extension is missing or broken on this installation."""


def extension() -> ModuleType:
    """The compiled extension, or :class:`NativeUnavailable` saying why it is unusable.

    Example:
        >>> extension().available_kernels()[0]  # doctest: +SKIP
        'portable'
    """
    try:
        # Through sys.modules, so a module known to be missing there counts as missing.
        _native = importlib.import_module(f"{__name__}._native")
        _build_info = importlib.import_module(f"{__name__}._build_info")
    except ImportError as exc:
        raise NativeUnavailable(
            f"the native engine is not available ({exc}); use --engine lce "
            "or build it with pip install -e ."
        ) from None
    if not getattr(_build_info, "source_digest", ""):
        raise NativeUnavailable(
            "the native engine was built without its source digest; "
            "rebuild it with pip install -e ."
        )
    return _native


def is_available() -> bool:
    """Whether :func:`extension` would succeed (for optional native features).

    Example:
        >>> is_available()  # doctest: +SKIP
        True
    """
    try:
        extension()
    except NativeUnavailable:
        return False
    return True


def compiled_source_digest() -> str:
    """sha256 of every file under ``engine/native/src`` when the extension was compiled.

    Example:
        >>> len(compiled_source_digest())  # doctest: +SKIP
        64
    """
    extension()
    return str(importlib.import_module(f"{__name__}._build_info").source_digest)


def available_kernels() -> list[str]:
    """Kernel sets this CPU can run, slowest first.

    Example:
        >>> available_kernels()[0]
        'portable'
    """
    return list(extension().available_kernels())


def popcount_peak_macs_per_s() -> float:
    """One core's binary-MAC peak (xor-popcount on registers, AVX-512), 0 without AVX-512.

    Example:
        >>> popcount_peak_macs_per_s() > 0  # doctest: +SKIP
        True
    """
    return float(extension().popcount_peak_macs_per_s())


def fma_peak_macs_per_s() -> float:
    """One core's float-MAC peak (FMA chains on registers, AVX-512), 0 without AVX-512.

    Example:
        >>> fma_peak_macs_per_s() > 0  # doctest: +SKIP
        True
    """
    return float(extension().fma_peak_macs_per_s())


def _auto_kernels() -> str:
    if os.environ.get("LCE_NAS_NATIVE_PORTABLE", "") not in ("", "0"):
        return "portable"
    return available_kernels()[-1]


def engine_version(kernels: str = "auto", source_digest: str | None = None) -> str:
    """Version for the latency key: runtime version, kernel set, digest of the compiled sources.

    ``source_digest`` defaults to :func:`compiled_source_digest`; this is the
    only place the version string is formed.

    Example:
        >>> engine_version("portable", "0123456789abcdef" * 4)
        'native-0.1.0+portable.0123456789ab'
    """
    chosen = _auto_kernels() if kernels == "auto" else kernels
    digest = source_digest if source_digest is not None else compiled_source_digest()
    return f"{ENGINE_NAME}-{__version__}+{chosen}.{digest[:DIGEST_CHARS]}"


@dataclass(frozen=True)
class OpProfile:
    """Mean wall time of one op: type, output tensor name, microseconds, share of the total."""

    op_type: str
    name: str
    microseconds: float
    share: float

    def to_op_timing(self):
        """As the engine's :class:`~lce_nas.engine.measurement.OpTiming` row (milliseconds)."""
        from lce_nas.engine.measurement import OpTiming

        ms = self.microseconds / 1000.0
        return OpTiming(op_type=self.op_type, name=self.name, avg_ms=ms, share=self.share)


class NativeModel:
    """A loaded model: ``run(x)``, ``time_runs(x, n)`` and ``profile(x)``."""

    def __init__(
        self,
        plan: Plan,
        num_threads: int = 1,
        kernels: str = "auto",
        keep_intermediates: bool = False,
        max_bytes: int = MAX_MODEL_BYTES,
    ) -> None:
        ext = extension()
        if num_threads < 1:
            raise NativeModelError("num_threads must be >= 1")
        unsupported = Counter(op.type for op in plan.ops if not ext.is_supported(op.type))
        if unsupported:
            listed = ", ".join(f"{name} (x{n})" for name, n in sorted(unsupported.items()))
            raise NativeModelError(f"the native engine does not support these ops: {listed}")
        if max_bytes < 1:
            raise NativeModelError("max_bytes must be >= 1")
        try:
            self._model = ext.Model(num_threads, kernels, keep_intermediates, int(max_bytes))
            for t in plan.tensors:
                index = self._model.add_tensor(t.name, t.shape, t.dtype, t.data)
                if t.quantization is not None:
                    q = t.quantization
                    self._model.set_quantization(index, q.scales, q.zero_points, q.axis)
            for op in plan.ops:
                self._model.add_op(op.type, op.inputs, op.outputs, op.options)
            self._model.finalize(plan.inputs, plan.outputs)
        except _EXTENSION_ERRORS as exc:
            raise NativeModelError(f"cannot load the model: {exc}") from None
        self._plan = plan
        self.input_shapes = [tuple(plan.tensors[i].shape) for i in plan.inputs]
        self.output_shapes = [tuple(plan.tensors[i].shape) for i in plan.outputs]

    @property
    def kernels(self) -> str:
        """The kernel set in use: ``avx512``, ``avx2`` or ``portable``."""
        return str(self._model.kernels)

    @property
    def num_threads(self) -> int:
        """Threads used by each op."""
        return int(self._model.num_threads)

    @property
    def engine_version(self) -> str:
        """``native-<version>+<kernels>.<source digest>``, for the measurement key."""
        return engine_version(self.kernels)

    def op_types(self) -> Counter:
        """How many ops of each type the model has.

        Example:
            >>> model.op_types()["LceBconv2d"]  # doctest: +SKIP
            16
        """
        return Counter(op.type for op in self._plan.ops)

    def _inputs(self, x) -> list[np.ndarray]:
        xs = list(x) if isinstance(x, list | tuple) else [x]
        try:
            return [np.ascontiguousarray(a) for a in xs]
        except Exception as exc:
            raise NativeModelError(f"inputs must be numpy arrays ({exc})") from exc

    def _call(self, method, *args):
        try:
            return method(*args)
        except _EXTENSION_ERRORS as exc:
            raise NativeModelError(str(exc)) from None

    def run(self, x: np.ndarray | list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """Run one inference; one output comes back as an array, several as a list.

        Example:
            >>> model.run(np.zeros(model.input_shapes[0], np.float32)).shape  # doctest: +SKIP
            (1, 1000)
        """
        outs = self._call(self._model.run, self._inputs(x))
        return outs[0] if len(outs) == 1 else list(outs)

    def tensor(self, name: str) -> np.ndarray:
        """A copy of a tensor's contents after the last run (bitpacked ones as int32 words).

        Intermediates are only all readable when loaded with ``keep_intermediates=True``
        (otherwise they share memory with later ones).

        Example:
            >>> model.run(x); model.tensor("model/add/add").shape  # doctest: +SKIP
            (1, 56, 56, 32)
        """
        for index, spec in enumerate(self._plan.tensors):
            if spec.name == name:
                return self._model.tensor(index)
        raise NativeModelError(f"no tensor named '{name}'")

    def time_runs(self, x: np.ndarray, runs: int) -> list[float]:
        """Wall time in milliseconds of each of ``runs`` inferences (timed in C++)."""
        return list(self._call(self._model.time_runs, self._inputs(x), int(runs)))

    def profile(self, x: np.ndarray, runs: int = 10, warmup: int = 2) -> list[OpProfile]:
        """Mean time per op over ``runs`` inferences, in execution order.

        One row per op of the flatbuffer; a residual ADD folded into the binary
        convolution before it (its work happens there) reports 0 us.

        Example:
            >>> rows = model.profile(x)  # doctest: +SKIP
            >>> rows[0].op_type, round(sum(r.share for r in rows), 6)  # doctest: +SKIP
            ('CONV_2D', 1.0)
        """
        if warmup > 0:
            self._call(self._model.time_runs, self._inputs(x), int(warmup))
        us = self._call(self._model.profile, self._inputs(x), max(1, int(runs)))
        total = float(sum(us)) or 1.0
        return [
            OpProfile(op_type, name, float(t), float(t) / total)
            for (op_type, name), t in zip(self._model.op_list(), us, strict=True)
        ]


def load(
    model: bytes | str | os.PathLike,
    num_threads: int = 1,
    kernels: str = "auto",
    keep_intermediates: bool = False,
    max_bytes: int = MAX_MODEL_BYTES,
) -> NativeModel:
    """Load an LCE ``.tflite`` (bytes or a path) into a :class:`NativeModel`.

    ``kernels`` is ``auto`` (best for this CPU), ``portable``, ``avx2`` or ``avx512``;
    ``keep_intermediates`` keeps every tensor readable via ``tensor()`` after a run.
    Every shape, type, buffer and option is checked before anything runs; a model
    asking for more than ``max_bytes`` of memory is refused. Any refusal is a
    :class:`NativeModelError` naming the op and the tensor.

    Example:
        >>> m = load(Path("quicknet_small.tflite"), num_threads=2)  # doctest: +SKIP
        >>> m.kernels  # doctest: +SKIP
        'avx512'
    """
    data = model_bytes(model, NativeModelError)
    if kernels != "auto" and kernels not in available_kernels():
        raise NativeModelError(
            f"kernel set '{kernels}' is not available on this CPU (have: "
            f"{', '.join(available_kernels())})"
        )
    return NativeModel(
        read_plan(data),
        num_threads=num_threads,
        kernels=kernels,
        keep_intermediates=keep_intermediates,
        max_bytes=max_bytes,
    )
