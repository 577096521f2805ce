"""The kernels a deploy model runs, in run order, computed from a config without building it.

A kernel is one operator of the converted flatbuffer, after LCE's fusions (a
binary convolution carries its BatchNorm and activation; ReLUs fuse into the
op before them): what an engine times as one row of a per-op profile. The
latency predictor learns each kernel type's time from these shapes.

Shapes are ``(height, width, channels)`` of the tensors as stored, except a
binary convolution's input, which counts its real channels (not the 32-bit
words LCE packs them into).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lce_nas.space.base import Geometry

HWC = tuple[int, int, int]


@dataclass(frozen=True)
class Kernel:
    """One operator as an engine runs it.

    Example:
        >>> k = Kernel("LceBconv2d", (56, 56, 64), (56, 56, 64), (3, 3))
        >>> k.binary_macs, k.float_macs
        (115605504, 0)
    """

    op: str
    #: The first data input (for ``CONCATENATION``, ``ADD`` and ``MUL``, every one counts).
    inp: HWC
    out: HWC
    window: tuple[int, int] = (1, 1)
    stride: int = 1
    dilation: int = 1
    #: Elements of every data input together (weights and other constants excluded).
    in_elements: int = 0

    def __post_init__(self) -> None:
        if not self.in_elements:
            object.__setattr__(self, "in_elements", math.prod(self.inp))

    @property
    def out_elements(self) -> int:
        return math.prod(self.out)

    @property
    def binary_macs(self) -> int:
        if self.op != "LceBconv2d":
            return 0
        return self.out_elements * self.window[0] * self.window[1] * self.inp[2]

    @property
    def float_macs(self) -> int:
        taps = self.window[0] * self.window[1]
        if self.op == "CONV_2D":
            return self.out_elements * taps * self.inp[2]
        if self.op == "DEPTHWISE_CONV_2D":
            return self.out_elements * taps
        if self.op == "FULLY_CONNECTED":
            return self.out_elements * self.in_elements
        return 0


def same(size: int, stride: int) -> int:
    """A 'same'-padded map's size after ``stride``.

    Example:
        >>> same(7, 2)
        4
    """
    return math.ceil(size / stride)


def valid(size: int, window: int, stride: int) -> int:
    """A 'valid'-padded map's size after a ``window`` at ``stride``.

    Example:
        >>> valid(56, 2, 1)
        55
    """
    return (size - window) // stride + 1


def packed(shape: HWC) -> HWC:
    """The shape of a bitpacked tensor (LceQuantize's output): 32 channels per word.

    Example:
        >>> packed((56, 56, 64))
        (56, 56, 2)
    """
    return (shape[0], shape[1], math.ceil(shape[2] / 32))


class KernelList:
    """Kernels appended in run order, with the shape helpers the spaces' lists share.

    Example:
        >>> ks = KernelList()
        >>> x = ks.conv("CONV_2D", (224, 224, 3), 32, 3, 2)
        >>> x, ks.kernels[0].float_macs
        ((112, 112, 32), 10838016)
    """

    def __init__(self) -> None:
        self.kernels: list[Kernel] = []

    def add(self, kernel: Kernel) -> HWC:
        self.kernels.append(kernel)
        return kernel.out

    def conv(
        self, op: str, x: HWC, filters: int, window: int, stride: int = 1, dilation: int = 1
    ) -> HWC:
        """A 'same'-padded convolution (``CONV_2D``, ``DEPTHWISE_CONV_2D`` or ``LceBconv2d``)."""
        out = (same(x[0], stride), same(x[1], stride), filters)
        return self.add(Kernel(op, x, out, (window, window), stride, dilation))

    def binary_conv(
        self, x: HWC, filters: int, window: int, stride: int = 1, dilation: int = 1
    ) -> HWC:
        """LceQuantize then LceBconv2d: how LCE runs a binary convolution of a float input."""
        self.add(Kernel("LceQuantize", x, packed(x)))
        return self.conv("LceBconv2d", x, filters, window, stride, dilation)

    def pool(self, op: str, x: HWC, window: int, stride: int, padding: str = "same") -> HWC:
        if padding == "same":
            h, w = same(x[0], stride), same(x[1], stride)
        else:
            h, w = valid(x[0], window, stride), valid(x[1], window, stride)
        return self.add(Kernel(op, x, (h, w, x[2]), (window, window), stride))

    def elementwise(self, op: str, x: HWC, inputs: int = 1) -> HWC:
        return self.add(Kernel(op, x, x, in_elements=inputs * math.prod(x)))

    def concat(self, parts: list[HWC]) -> HWC:
        out = (parts[0][0], parts[0][1], sum(p[2] for p in parts))
        return self.add(Kernel("CONCATENATION", parts[0], out, in_elements=math.prod(out)))

    def stem_7x7(self, geometry: Geometry, filters: int, activation: str | None = None) -> HWC:
        """A ResNet stem: the 7x7 conv (its BatchNorm folded in), an optional
        activation kernel, and the 3x3 max pool, at the geometry's two strides."""
        x = self.conv("CONV_2D", geometry.input_shape, filters, 7, geometry.stem_strides[0])
        if activation is not None:
            x = self.elementwise(activation, x)
        return self.pool("MAX_POOL_2D", x, 3, geometry.stem_strides[1])

    def head(self, x: HWC, classes: int) -> None:
        """Global average pooling, the classifier and the softmax."""
        x = self.add(Kernel("AVERAGE_POOL_2D", x, (1, 1, x[2]), (x[0], x[1]), x[0]))
        self.add(Kernel("FULLY_CONNECTED", x, (1, 1, classes)))
        self.add(Kernel("SOFTMAX", (1, 1, classes), (1, 1, classes)))
