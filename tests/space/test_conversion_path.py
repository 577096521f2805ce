"""``convert_model`` takes a shortcut through LCE's converter: same bytes, and a way back."""

from __future__ import annotations

from process_support import in_fresh_process


def _three_ways() -> dict[str, bytes]:
    import larq_compute_engine as lce
    import lce_nas.engine.convert as convert
    import tensorflow as tf
    from lce_nas.space import get_space

    space = get_space("quicknet")
    tf.keras.utils.set_random_seed(0)
    model = space.build_proxy(space.preset("quicknet-small"), (32, 32, 3), 10, width=0.125)
    ours = convert.convert_model(model)
    with convert._unsaveable(model):  # LCE's frozen-graph path, traced with AutoGraph
        frozen = bytes(lce.convert_keras_model(model))

    def untraceable(model: tf.keras.Model) -> None:
        raise tf.errors.OperatorNotAllowedInGraphError(None, None, "a Python branch on a tensor")

    # What a layer with tensor-dependent Python control flow does to a trace without
    # AutoGraph: convert_model falls back to LCE's usual path, the SavedModel export.
    convert._concrete_function = untraceable
    return {"ours": ours, "frozen": frozen, "fallback": convert.convert_model(model)}


def _ops(tflite: bytes) -> list[str]:
    import tensorflow as tf

    return [op["op_name"] for op in tf.lite.Interpreter(model_content=tflite)._get_ops_details()]


def test_the_shortcut_gives_lces_bytes_and_a_model_it_cannot_trace_converts_lces_way():
    flatbuffers = in_fresh_process(_three_ways)
    assert flatbuffers["ours"] == flatbuffers["frozen"]
    # The SavedModel export names tensors its own way: other bytes, the same ops.
    assert flatbuffers["fallback"] != flatbuffers["ours"]
    assert _ops(flatbuffers["fallback"]) == _ops(flatbuffers["ours"])
    assert "LceBconv2d" in _ops(flatbuffers["ours"])
