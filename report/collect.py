"""Measure (or read from the latency database) every number of the report.

Each number is one measurement under its full key (device, engine, engine
version, threads, kernel options, deploy shape) and a fingerprint that is
known before anything is built, so a second report answers from the
database without importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lce_nas.engine.breakdown import CATEGORIES
from lce_nas.engine.devices import Device, HostDevice
from lce_nas.engine.measurement import Measurement
from lce_nas.report.blocks import PRECISIONS, RESNET18_BLOCKS, Block, convert_block
from lce_nas.report.breakdown import BREAKDOWN_MODELS, BreakdownModel, scaled_split

from lce_nas.errors import UserError

#: Why the native engine has no int8 block figures.
NATIVE_INT8_NOTE = (
    "not timed: the native engine runs int8 models with TFLite's integer reference "
    "loops, which check results, not speed"
)

Echo = Callable[[str], None]


@dataclass
class Row:
    """One number of the report (a measured latency, or why there is none).

    ``source`` is ``measured``, ``cache``, ``refused`` (the engine cannot
    run the model) or ``skipped`` (its figure would mislead); ``note`` says
    why. ``split_ms`` is the engine's own per-op breakdown scaled to its
    median (empty for an engine without per-op timers); ``split_from``
    names that engine.
    """

    figure: str
    item: str
    precision: str
    device: str
    engine: str
    engine_version: str
    threads: int
    deploy_shape: str
    fingerprint: str
    source: str
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    cv: float | None = None
    runs: int | None = None
    split_ms: dict[str, float] = field(default_factory=dict)
    split_from: str = ""
    note: str = ""
    cpu: str = ""


@dataclass
class Plan:
    """What a report measures: the devices (one per engine) and which figures."""

    devices: list[Device]
    blocks: bool = True
    #: Names of the blocks to measure (None: all four).
    block_names: tuple[str, ...] | None = None
    breakdown: bool = True
    fresh: bool = False
    max_seconds: float = 3.0


def engine_devices(device: Device, engine: str | None) -> list[Device]:
    """The device once per engine the report compares: LCE's, and the native engine's if asked.

    ``engine`` is ``lce-interpreter``, ``native`` or None (the device's own).
    Remote devices run their own benchmark tool and take no engine.

    Example:
        >>> [d.engine for d in engine_devices(HostDevice(name="host"), "native")]
        ['lce', 'native']
    """
    if not isinstance(device, HostDevice):
        if engine is not None:
            raise UserError(
                f"--engine applies to host devices; '{device.name}' runs {device.engine}"
            )
        return [device]
    chosen = {"lce-interpreter": "lce", "native": "native", None: device.engine}[engine]
    lce = dataclasses.replace(device, engine="lce")
    if chosen == "native":
        return [lce, dataclasses.replace(device, engine="native")]
    return [lce]


class Collector:
    """Runs a :class:`Plan` against a latency store, one progress line per number."""

    def __init__(self, plan: Plan, store: Any, echo: Echo, warn: Echo) -> None:
        self.plan = plan
        self.store = store
        self.echo = echo
        self.warn = warn
        self.measured = 0
        self._tflite: dict[tuple[str, str], bytes] = {}
        self._steps = self._count_steps()
        self._step = 0

    def blocks(self) -> list[Block]:
        """The ResNet-18 blocks this plan measures."""
        names = self.plan.block_names
        return [b for b in RESNET18_BLOCKS if names is None or b.name in names]

    def _count_steps(self) -> int:
        steps = 0
        if self.plan.blocks:
            steps += len(self.blocks()) * len(PRECISIONS) * len(self.plan.devices)
        if self.plan.breakdown:
            steps += len(BREAKDOWN_MODELS) * len(self.breakdown_devices())
        return steps

    def breakdown_devices(self) -> list[Device]:
        """The plan's devices, plus the native engine where only it has per-op timers.

        LCE's Python interpreter times whole models only; on the host the native
        engine's profile of the same flatbuffer gives the split beside LCE's total.
        """
        devices = list(self.plan.devices)
        engines = {d.engine for d in devices}
        for device in self.plan.devices:
            if not device.times_ops and isinstance(device, HostDevice) and "native" not in engines:
                devices.append(dataclasses.replace(device, engine="native"))
                engines.add("native")
        return devices

    def run(self) -> list[Row]:
        """Every row of the report, blocks first."""
        rows: list[Row] = []
        for device in self.breakdown_devices():
            self.store.record_device(device.name, device.kind, device.to_spec())
        if self.plan.blocks:
            for block in self.blocks():
                for precision in PRECISIONS:
                    for device in self.plan.devices:
                        rows.append(self._block_row(block, precision, device))
        if self.plan.breakdown:
            for model in BREAKDOWN_MODELS:
                for device in self.breakdown_devices():
                    rows.append(self._model_row(model, device))
        return rows

    # -- one number ---------------------------------------------------------

    def _progress(self, what: str, device: Device, outcome: str) -> None:
        self._step += 1
        where = f"{device.name} ({device.engine})"
        self.echo(f"[{self._step}/{self._steps}] {what} on {where}: {outcome}")

    def _lookup(self, fingerprint: str, key, need_split: bool) -> Measurement | None:
        from lce_nas.latency_db.records import measurement_from_row

        if self.plan.fresh:
            return None
        row = self.store.lookup_measurement_row(fingerprint, key)
        if row is None:
            return None
        cached = measurement_from_row(row)
        if need_split and not cached.breakdown_ms:
            return None
        return cached

    def _obtain(
        self,
        what: str,
        device: Device,
        fingerprint: str,
        shape_label: str,
        build: Callable[[], bytes],
        profile: bool,
    ) -> tuple[Measurement | None, str, str]:
        """(measurement or None, source, note), from the database or timed now."""
        from lce_nas.engine.measuring import measure, measurement_key

        key = measurement_key(device, shape_label)
        cached = self._lookup(fingerprint, key, profile)
        if cached is not None:
            self._progress(what, device, f"{cached.median_ms:.3f} ms (database)")
            return cached, "cache", ""
        tflite = build()
        try:
            result = measure(
                tflite,
                device,
                profile=profile,
                max_seconds=self.plan.max_seconds,
                fingerprint=fingerprint,
                warn=self.warn,
            )
        except UserError as err:
            if profile and device.engine != "native":
                # Everything measured so far is stored; a rerun answers it from the database.
                raise UserError(
                    f"{err} (the breakdown needs per-op timers; --blocks-only skips it)"
                ) from None
            if device.engine != "native":
                raise
            # The native engine refuses what it does not implement: say so, go on.
            self._progress(what, device, f"refused ({err})")
            return None, "refused", f"the native engine refuses this model: {err}"
        result.deploy_shape = shape_label
        self.store.record_measurement(result)
        self.measured += 1
        self._progress(what, device, f"{result.median_ms:.3f} ms (measured, recorded)")
        return result, "measured", ""

    def _row(self, figure, item, precision, device, fingerprint, shape_label, m, source, note):
        from lce_nas.engine.measuring import measurement_key

        key = measurement_key(device, shape_label)
        row = Row(
            figure=figure,
            item=item,
            precision=precision,
            device=device.name,
            engine=key.engine,
            engine_version=key.engine_version,
            threads=key.threads,
            deploy_shape=shape_label,
            fingerprint=fingerprint,
            source=source,
            note=note,
        )
        if m is not None:
            row.median_ms, row.p10_ms, row.p90_ms = m.median_ms, m.p10_ms, m.p90_ms
            row.cv, row.runs = m.cv, m.runs
            row.cpu = str(m.host_facts.get("cpu_model", ""))
        return row

    def _block_row(self, block: Block, precision: str, device: Device) -> Row:
        what = f"block {block.name} {precision}"
        fingerprint = block.fingerprint(precision)
        if precision == "int8" and device.engine == "native":
            # Its int8 kernels are TFLite's integer reference loops, kept for correctness:
            # a binary-over-int8 ratio against them would measure their plainness.
            self._progress(what, device, "not timed (the native int8 kernels are a reference)")
            return self._row(
                "blocks", block.name, precision, device, fingerprint, block.label, None,
                "skipped", NATIVE_INT8_NOTE,
            )  # fmt: skip

        def build() -> bytes:
            if (block.name, precision) not in self._tflite:
                self.echo(f"  converting {block.name} ({block.label}) as {precision}")
                self._tflite[(block.name, precision)] = convert_block(block, precision)
            return self._tflite[(block.name, precision)]

        m, source, note = self._obtain(what, device, fingerprint, block.label, build, False)
        return self._row(
            "blocks", block.name, precision, device, fingerprint, block.label, m, source, note
        )

    def _model_row(self, model: BreakdownModel, device: Device) -> Row:
        from lce_nas.space import get_space
        from lce_nas.space.shape import DeployShape

        space = get_space(model.space)
        config = space.preset(model.preset)
        fingerprint = space.fingerprint(config)
        shape = DeployShape()
        what = f"model {model.name}"

        def build() -> bytes:
            if (model.name, "binary") not in self._tflite:
                from lce_nas.engine.convert import convert_deploy

                self.echo(f"  building and converting {model.space}/{model.preset} ({shape.label})")
                self.store.record_config(space, config)
                self._tflite[(model.name, "binary")] = convert_deploy(space, config, shape)[1]
            return self._tflite[(model.name, "binary")]

        m, source, note = self._obtain(
            what, device, fingerprint, shape.label, build, device.times_ops
        )
        row = self._row(
            "breakdown", model.name, "binary", device, fingerprint, shape.label, m, source, note
        )
        if m is not None and m.breakdown_ms:
            row.split_ms = scaled_split(m.breakdown_ms, m.median_ms)
            row.split_from = row.engine
        elif m is not None:
            row.note = "no per-op timers in this engine: whole-model latency only"
        return row


def block_row(rows: list[Row], block: str, precision: str, engine: str) -> Row | None:
    """The block figure's row of ``block`` at ``precision`` on ``engine``, if there is one."""
    for row in rows:
        if (row.figure, row.item, row.precision, row.engine) == (
            "blocks",
            block,
            precision,
            engine,
        ):
            return row
    return None


def split_columns(row: Row) -> dict[str, float | None]:
    """The row's split as ``<category>_ms`` columns (None where it has none)."""
    return {f"{c}_ms": row.split_ms.get(c) if row.split_ms else None for c in CATEGORIES}
