"""The result of timing one model on one device: a distribution, never one number.

A latency is only comparable with another that has the same key: device,
engine, engine version, thread count, kernel options and the deploy shape
the model was built at.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lce_nas.canonical import canonical_json

# The deploy shape of every latency stored before shapes were part of the key.
DEFAULT_DEPLOY_SHAPE = "224x224x3/1000"


@dataclass(frozen=True)
class MeasurementKey:
    """What makes two latencies comparable.

    Example:
        >>> MeasurementKey("host", "lce-interpreter", "0.16.0", 1,
        ...                {"use_xnnpack": True}).kernel_options_json
        '{"use_xnnpack":true}'
    """

    device: str
    engine: str
    engine_version: str
    threads: int
    kernel_options: dict[str, Any] = field(default_factory=dict, hash=False)
    #: ``HxWxC/classes`` of the deploy model (see :class:`lce_nas.space.shape.DeployShape`).
    deploy_shape: str = DEFAULT_DEPLOY_SHAPE

    @property
    def kernel_options_json(self) -> str:
        """The kernel options as canonical JSON (sorted keys, no spaces)."""
        return canonical_json(self.kernel_options)

    def to_dict(self) -> dict[str, Any]:
        """The key as JSON values; the default deploy shape is left out.

        Leaving it out keeps the keys recorded before shapes were keyed
        (studies' metadata) equal to today's default key.

        Example:
            >>> MeasurementKey("host", "lce", "0.16.0", 1, deploy_shape="96x96x3/2").to_dict()
            ... # doctest: +NORMALIZE_WHITESPACE
            {'device': 'host', 'engine': 'lce', 'engine_version': '0.16.0', 'threads': 1,
             'kernel_options': {}, 'deploy_shape': '96x96x3/2'}
        """
        data = dataclasses.asdict(self)
        if self.deploy_shape == DEFAULT_DEPLOY_SHAPE:
            del data["deploy_shape"]
        return data


@dataclass(frozen=True)
class OpTiming:
    """One row of a per-op profile.

    ``category`` is one of the LCE paper's breakdown groups: ``first_layer``,
    ``binary_conv``, ``glue`` or ``last_layer`` (empty until classified).
    """

    op_type: str
    name: str
    avg_ms: float
    share: float = 0.0
    category: str = ""


@dataclass
class Measurement:
    """Latency of one model on one device, with its spread and its key.

    Example:
        >>> m = Measurement.from_samples([10.0, 11.0, 12.0], device="host",
        ...     engine="lce-interpreter", engine_version="0.16.0", threads=1)
        >>> m.median_ms, m.runs
        (11.0, 3)
    """

    device: str
    engine: str
    engine_version: str
    threads: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    cv: float
    runs: int
    warmup_runs: int = 0
    kernel_options: dict[str, Any] = field(default_factory=dict)
    host_facts: dict[str, Any] = field(default_factory=dict)
    measured_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    samples_ms: list[float] = field(default_factory=list)
    op_profile: list[OpTiming] | None = None
    breakdown_ms: dict[str, float] | None = None
    model_sha256: str = ""
    fingerprint: str | None = None
    deploy_shape: str = DEFAULT_DEPLOY_SHAPE
    #: The latency predictor's estimate made before this model was timed (``median_ms``,
    #: ``low_ms``, ``high_ms``, ``examples``), or None where there was none.
    predicted: dict[str, Any] | None = None

    @property
    def key(self) -> MeasurementKey:
        return MeasurementKey(
            self.device,
            self.engine,
            self.engine_version,
            self.threads,
            self.kernel_options,
            self.deploy_shape,
        )

    @classmethod
    def from_samples(cls, samples_ms: list[float], **fields: Any) -> Measurement:
        """Summarise per-run latencies (milliseconds) into a measurement."""
        if not samples_ms:
            raise ValueError("a measurement needs at least one timed run")
        arr = np.asarray(samples_ms, dtype=np.float64)
        mean = float(arr.mean())
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return cls(
            median_ms=float(np.median(arr)),
            p10_ms=float(np.percentile(arr, 10)),
            p90_ms=float(np.percentile(arr, 90)),
            mean_ms=mean,
            std_ms=std,
            cv=std / mean if mean > 0 else math.nan,
            runs=int(arr.size),
            samples_ms=[float(s) for s in arr],
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (timestamps as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["measured_at"] = self.measured_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["measured_at"] = datetime.fromisoformat(data["measured_at"])
        if data.get("op_profile") is not None:
            data["op_profile"] = [OpTiming(**row) for row in data["op_profile"]]
        return cls(**data)
