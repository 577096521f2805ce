"""``convert_model`` takes a shortcut through LCE's converter: same bytes, and a way back."""

from __future__ import annotations

from process_support import in_fresh_process


def _three_ways(space_name: str, preset: str) -> tuple[bytes, bytes, list[str], list[str]]:
    import larq_compute_engine as lce
    import tensorflow as tf
    from lce_nas.engine.convert import _unsaveable, convert_model
    from lce_nas.space import get_space

    space = get_space(space_name)
    tf.keras.utils.set_random_seed(0)
    model = space.build_deploy(space.preset(preset), (64, 64, 3), 10)
    ours = convert_model(model)
    with _unsaveable(model):  # LCE's frozen-graph path, traced with AutoGraph
        frozen = bytes(lce.convert_keras_model(model))
    saved = bytes(lce.convert_keras_model(model))  # LCE's default: the SavedModel export
    ops = lambda b: [o["op_name"] for o in tf.lite.Interpreter(model_content=b)._get_ops_details()]  # noqa: E731
    return ours, frozen, ops(ours), ops(saved)


def test_the_shortcut_gives_lces_frozen_graph_bytes_and_its_saved_model_ops():
    for space_name, preset in (("quicknet", "quicknet-small"), ("realtobinary", "realtobinary")):
        ours, frozen, our_ops, saved_ops = in_fresh_process(_three_ways, space_name, preset)
        assert ours == frozen, space_name
        assert our_ops == saved_ops and "LceBconv2d" in our_ops


def _shortcut_refused(space_name: str, preset: str) -> tuple[bytes, bytes]:
    import lce_nas.engine.convert as convert
    import tensorflow as tf
    from lce_nas.space import get_space

    space = get_space(space_name)
    tf.keras.utils.set_random_seed(0)
    model = space.build_deploy(space.preset(preset), (64, 64, 3), 10)
    shortcut = convert.convert_model(model)

    def untraceable(model: tf.keras.Model) -> None:
        raise tf.errors.OperatorNotAllowedInGraphError("a Python branch on a tensor")

    # What a layer with tensor-dependent Python control flow does to a trace without AutoGraph.
    convert._concrete_function = untraceable
    return shortcut, convert.convert_model(model)


def test_a_model_the_shortcut_cannot_trace_converts_the_usual_way():
    shortcut, usual = in_fresh_process(_shortcut_refused, "quicknet", "quicknet-small")
    assert usual[4:8] == b"TFL3"
    # LCE's SavedModel path: other tensor names, so other bytes, same size give or take names.
    assert usual != shortcut and abs(len(usual) - len(shortcut)) < 1024
