"""Keras model builders for the native engine's single-op grids."""

from __future__ import annotations

import numpy as np

import lce_nas  # noqa: F401  (Keras 2 before TensorFlow)

# Each bconv branch: (filters, kernel, strides, padding, dilation, pad_values, activation, out)
# out "bits" ends in a sign quantizer, so LCE writes bitpacked output (thresholds) and a
# LceDequantize turns it into +-1 floats: equal floats mean bit-exact intermediates.
BCONV_BRANCHES = [
    (40, 3, 1, "same", 1, 1.0, None, "float"),
    (40, 3, 1, "same", 1, 0.0, None, "float"),
    (17, 3, 2, "valid", 1, 1.0, None, "float"),
    (24, 3, 2, "same", 1, 1.0, None, "float"),
    (9, 3, 2, "same", 1, 0.0, None, "float"),
    (64, 3, 1, "same", 2, 1.0, None, "float"),
    (33, 3, 1, "valid", 2, 1.0, None, "float"),
    (40, 3, 1, "same", 1, 1.0, "relu", "float"),
    (40, 3, 1, "same", 1, 1.0, "relu6", "float"),
    (40, 3, 1, "same", 1, 1.0, "hardtanh", "float"),
    (40, 3, 1, "same", 1, 1.0, None, "bits"),
    (32, 1, 2, "same", 1, 1.0, None, "bits"),
    (97, 5, 1, "valid", 1, 1.0, None, "bits"),
    (8, 1, 1, "valid", 1, 1.0, None, "float"),
]

# Input shapes: odd spatial sizes and channels on both sides of multiples of 32.
BCONV_INPUTS = [(11, 9, 33), (7, 7, 1), (8, 10, 32), (9, 6, 97)]


def _qconv(filters, kernel, strides=1, padding="same", pad_values=1.0, dilation=1):
    from lce_nas.space.layers import binary_conv

    return binary_conv(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        pad_values=pad_values,
    )


def bconv_grid_model(input_shape):
    """One input, one LceBconv2d branch per entry of BCONV_BRANCHES."""
    import larq as lq
    import tensorflow as tf

    inp = tf.keras.Input(input_shape)
    outs = []
    for filters, kernel, strides, padding, dilation, pad_values, act, out in BCONV_BRANCHES:
        y = _qconv(filters, kernel, strides, padding, pad_values, dilation)(inp)
        if act == "relu":
            y = tf.keras.layers.ReLU()(y)
        elif act == "relu6":
            y = tf.keras.layers.ReLU(max_value=6.0)(y)
        elif act == "hardtanh":
            y = tf.keras.layers.Activation(lambda t: tf.clip_by_value(t, -1.0, 1.0))(y)
        y = tf.keras.layers.BatchNormalization()(y)
        if out == "bits":
            y = lq.quantizers.SteSign()(y)
        outs.append(y)
    return tf.keras.Model(inp, outs)


def float_ops_model(input_shape=(13, 11, 6)):
    """The float glue of BNNs: convs, depthwise, pools, element-wise ops, concat, pad,
    mean, dense, softmax and activations, each as its own output branch."""
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input(input_shape)
    c = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    gate = L.Dense(6, activation="sigmoid")(L.GlobalAveragePooling2D()(inp))
    h, w, channels = input_shape
    per_pixel = np.linspace(-1, 1, h * w, dtype=np.float32).reshape(h, w, 1)
    per_row = np.linspace(-0.5, 0.5, h * channels, dtype=np.float32).reshape(h, 1, channels)
    outs = [
        c,
        L.Conv2D(20, 3, padding="valid", dilation_rate=2)(inp),
        L.Conv2D(35, 1, use_bias=False)(inp),
        # Image stems: kernel rows read as runs of k_w pixels from a width-padded copy.
        L.Conv2D(24, 7, strides=2, padding="same", activation="relu")(inp),
        L.Conv2D(8, (5, 4), padding="valid")(inp),
        L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(inp),
        L.DepthwiseConv2D(3, padding="valid", depth_multiplier=2)(inp),
        L.MaxPool2D(2, strides=1)(inp),
        L.MaxPool2D(3, strides=2, padding="same")(inp),
        L.AveragePooling2D(3, strides=2, padding="same")(inp),
        L.AveragePooling2D(2)(inp),
        L.Add()([inp, L.Conv2D(6, 1)(inp)]),
        L.Multiply()([inp, L.Conv2D(6, 1)(inp)]),
        L.Subtract()([inp, L.Conv2D(6, 1)(inp)]),
        L.Concatenate()([inp, L.Conv2D(5, 1)(inp)]),
        L.ZeroPadding2D(((1, 2), (0, 3)))(inp),
        L.GlobalAveragePooling2D()(inp),
        L.Dense(7, activation="softmax")(L.Flatten()(c)),
        L.Activation("sigmoid")(inp),
        L.Activation("tanh")(inp),
        L.LeakyReLU(0.2)(inp),
        L.ReLU(max_value=6.0)(inp),
        # Real-to-Binary style gating: per-channel scale from a pooled branch.
        L.Multiply()([inp, L.Reshape((1, 1, 6))(gate)]),
        L.Reshape((-1, 6))(inp),
        # Reductions over the last axis, a middle one and the spatial ones, and a pad of
        # every axis (the channels too).
        L.Lambda(lambda t: tf.reduce_sum(t, axis=-1))(inp),
        L.Lambda(lambda t: tf.reduce_mean(t, axis=1))(inp),
        L.Lambda(lambda t: tf.reduce_max(t, axis=[1, 2], keepdims=True))(inp),
        L.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 0], [0, 2], [1, 1]], constant_values=0.5))(inp),
        # Broadcasts of each kind: the broadcast input first, and along a middle axis.
        L.Lambda(lambda t: per_pixel - t)(inp),
        L.Lambda(lambda t: tf.maximum(t, per_row))(inp),
    ]
    return tf.keras.Model(inp, outs)


def common_bnns_model(input_shape=(16, 16, 3)):
    """Blocks of the common BNNs in one model: Bi-Real Net / BinaryResNetE18 (float
    shortcuts with average-pool downsampling), BinaryDenseNet (concatenation, max-pool
    transitions), Real-to-Binary (sigmoid gating of binary conv outputs), and a max-pool
    on binarised activations (LceBMaxPool2d)."""
    import larq as lq
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input(input_shape)
    x = L.BatchNormalization()(L.Conv2D(32, 3, padding="same", use_bias=False)(inp))
    # Bi-Real Net block and downsampling block.
    y = L.BatchNormalization()(_qconv(32, 3)(x))
    x = L.Add()([x, y])
    short = L.BatchNormalization()(L.Conv2D(64, 1, use_bias=False)(L.AveragePooling2D(2)(x)))
    x = L.Add()([short, L.BatchNormalization()(_qconv(64, 3, strides=2)(x))])
    # BinaryDenseNet: grow by concatenation, transition with max-pool, ReLU, 1x1 conv.
    d = L.Concatenate()([x, L.BatchNormalization()(_qconv(32, 3)(x))])
    d = L.Concatenate()([d, L.BatchNormalization()(_qconv(32, 3, pad_values=0.0)(d))])
    d = L.Conv2D(48, 1)(L.ReLU()(L.MaxPool2D(2)(d)))
    # Real-to-Binary: a pooled branch gates the binary conv's output per channel.
    b = L.BatchNormalization()(_qconv(48, 3)(d))
    gate = L.Dense(48, activation="sigmoid")(L.GlobalAveragePooling2D()(d))
    r2b = L.Multiply()([b, L.Reshape((1, 1, 48))(gate)])
    # Max-pool on binarised activations before a binary conv.
    s = L.MaxPool2D(2, padding="same")(lq.quantizers.SteSign()(d))
    bm = L.BatchNormalization()(_qconv(40, 3)(s))
    head = L.Dense(10)(L.GlobalAveragePooling2D()(L.Add()([d, r2b])))
    return tf.keras.Model(inp, [head, bm])


def where_quantizer_model(input_shape=(9, 7, 12)):
    """Binary layers whose quantizer is ``tf.where(x >= 0, 1, -1)`` (LCE keeps it as
    GREATER_EQUAL + SELECT and a float convolution), and every comparison feeding a
    broadcasting ``tf.where`` (SELECT_V2)."""
    import larq as lq
    import numpy as np
    import tensorflow as tf

    def where_sign(x):
        return tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))

    L = tf.keras.layers
    inp = tf.keras.Input(input_shape)
    conv = lq.layers.QuantConv2D(
        24, 3, padding="same", input_quantizer=where_sign, kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip", use_bias=False,
    )  # fmt: skip
    binary = L.BatchNormalization()(conv(inp))
    thresholds = np.linspace(-1.0, 1.0, input_shape[-1]).astype(np.float32)

    def comparisons(x):
        relu = tf.nn.relu(x)
        picked = [
            tf.where(x > thresholds, x, 0.5 * x),  # a per-channel threshold, broadcast
            tf.where(x >= 0.25, 1.0, -1.0),  # scalars on both sides
            tf.where(x < thresholds, -x, thresholds),
            tf.where(x <= -0.5, x, 2.0),
            tf.where(tf.equal(relu, 0.0), -1.0, x),  # exact zeros: ReLU of the negatives
            tf.where(tf.not_equal(relu, 0.0), x, 3.0),
        ]
        return tf.concat(picked, axis=-1)

    glue = L.Lambda(comparisons)(inp)
    return tf.keras.Model(inp, [binary, glue])


def layout_ops_model(input_shape=(9, 7, 12)):
    """TRANSPOSE and strided slices (negative strides, open ends, a shrunk axis) between
    float ops, so that the converter keeps them."""
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input(input_shape)
    x = L.Conv2D(16, 3, padding="same")(inp)

    def layouts(t):
        moved = tf.transpose(t, [0, 3, 1, 2])  # NCHW
        stepped = t[:, 1:8:2, ::-1, 3:13]
        backwards = t[:, -2:-9:-3, 1:, ::4]
        row = t[:, 4, :, :]  # shrinks the height axis
        return [moved * 2.0, stepped + 1.0, backwards - 1.0, row * 0.5]

    return tf.keras.Model(inp, L.Lambda(layouts)(x))


# Fake-quantization ranges of the int8 grid: asymmetric ones give non-zero zero points.
INT8_RANGES = [(-2.5, 4.0), (-6.0, 1.5), (-3.0, 3.0), (-1.0, 8.0), (-4.0, 2.0)]


def int8_ops_model(input_shape=(12, 10, 8), ranges=INT8_RANGES):
    """A full-integer model: each branch is one int8 op (or a binary convolution with int8
    input and output) on the same quantized input, so every output differs from LCE's only
    by that op's own rounding. Ranges differ between tensors: scales and zero points do."""
    import itertools

    import larq as lq
    import tensorflow as tf

    L = tf.keras.layers
    ranges = itertools.cycle(ranges)

    def quant(t, limits=None):
        low, high = limits or next(ranges)
        return L.Lambda(lambda v: tf.quantization.fake_quant_with_min_max_vars(v, low, high))(t)

    inp = tf.keras.Input(input_shape)
    first = next(ranges)
    x = quant(inp, first)
    branches = [
        L.Conv2D(12, 3, padding="same")(x),
        L.Conv2D(6, 3, strides=2, activation="relu")(x),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x),
        L.BatchNormalization()(_qconv(20, 3)(x)),
        L.BatchNormalization()(_qconv(16, 3, strides=2, padding="valid")(x)),
        # The second operand is x at another scale and zero point (an exact QUANTIZE).
        L.Add()([x, quant(x)]),
        L.Multiply()([x, quant(x)]),
        L.MaxPool2D(2)(x),
        L.AveragePooling2D(3, strides=2, padding="same")(x),
        L.Subtract()([x, quant(x)]),
        # TFLite's int8 CONCATENATION takes inputs at the output's scale only.
        L.Concatenate()([x, quant(L.MaxPool2D(1)(x), first)]),
        L.ReLU()(x),
        L.ReLU(6.0)(x),
        L.LeakyReLU(0.3)(x),
        L.Activation("sigmoid")(x),
        L.Activation("tanh")(x),
        L.ZeroPadding2D(1)(x),
        # Signs of a binary convolution's output (bitpacked), back to int8 for an ADD.
        L.Add()([x, quant(lq.quantizers.SteSign()(L.BatchNormalization()(_qconv(8, 3)(x))))]),
        L.Softmax()(quant(L.Dense(10)(quant(L.GlobalAveragePooling2D()(x))))),
    ]
    return tf.keras.Model(inp, [quant(b) for b in branches])


def _fake_quant(low=-3.0, high=3.0):
    import tensorflow as tf

    return tf.keras.layers.Lambda(
        lambda v: tf.quantization.fake_quant_with_min_max_vars(v, low, high)
    )


def lce_int8_toy_model(input_shape=(32, 32, 3)):
    """LCE's end-to-end int8 test model: fake-quantized binary convolutions and pooling."""
    import larq as lq
    import tensorflow as tf

    L = tf.keras.layers
    img = tf.keras.Input(input_shape)
    x = _fake_quant()(img)
    for _ in range(2):
        x = lq.layers.QuantConv2D(
            12, 3, strides=2, input_quantizer="ste_sign", kernel_quantizer="ste_sign"
        )(x)
        x = _fake_quant()(L.BatchNormalization()(x))
    x = _fake_quant()(L.GlobalAveragePooling2D()(x))
    return tf.keras.Model(img, x)


def int8_zero_padding_model(input_shape=(8, 8, 16)):
    """A binary convolution with pad_values=0 between int8 tensors."""
    import tensorflow as tf

    img = tf.keras.Input(input_shape)
    x = _fake_quant()(img)
    x = tf.keras.layers.BatchNormalization()(_qconv(16, 3, pad_values=0.0)(x))
    return tf.keras.Model(img, _fake_quant()(x))
