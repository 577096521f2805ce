"""Rungs of a multi-fidelity ladder: steps, widths, seeds, and ladders that cannot be built."""

from __future__ import annotations

import itertools
import math

import pytest
from lce_nas.search.fidelity import Ladder, Rung, RungResult, proxy_steps, settings_for_steps
from lce_nas.workers.trainer import ProxySettings

from lce_nas.errors import UserError


def test_one_rung_is_the_proxy_settings_as_given():
    settings = ProxySettings(epochs=2, subset=256, width=0.125)
    ladder = Ladder.single(settings)
    assert ladder.is_single and ladder.to_dict() is None
    # The same settings, so the same accuracy cache key as single-fidelity training.
    assert ladder.seed_settings(0, preset=True) == [settings]


def test_the_lowest_rung_of_the_default_proxy_is_todays_training():
    ladder = Ladder.geometric(ProxySettings(), min_steps=125, max_steps=1125, eta=3)
    assert ladder.rungs[0].settings.to_dict() == ProxySettings().to_dict()
    assert [r.steps for r in ladder.rungs] == [125, 375, 1125]


@pytest.mark.parametrize(
    ("low", "high", "eta"), [(125, 1125, 3), (100, 1000, 3), (8, 24, 3), (125, 4000, 2)]
)
def test_rungs_are_eta_apart_from_the_top_down(low, high, eta):
    steps = [r.steps for r in Ladder.geometric(ProxySettings(), min_steps=low, max_steps=high,
                                               eta=eta).rungs]  # fmt: skip
    assert steps[-1] == high and steps[0] >= low
    assert steps[0] < low * eta  # no room for another rung below
    for below, above in itertools.pairwise(steps):
        assert above / below == pytest.approx(eta, rel=0.02)


@pytest.mark.parametrize("steps", [1, 125, 500, 4000, 9001])
def test_a_rung_trains_for_its_steps(steps):
    settings = settings_for_steps(ProxySettings(), steps, 0.25)
    assert settings.width == 0.25 and settings.subset <= 8000
    # Rounded up to whole batches of whole epochs: never fewer steps, at most one more per epoch.
    assert steps <= proxy_steps(settings) <= steps + settings.epochs


def test_the_top_rung_takes_several_seeds_and_presets_more():
    ladder = Ladder.geometric(ProxySettings(seed=7), min_steps=8, max_steps=24, eta=3)
    assert [r.seeds for r in ladder.rungs] == [1, 2]
    assert [s.seed for s in ladder.seed_settings(1, preset=False)] == [7, 8]
    assert [s.seed for s in ladder.seed_settings(1, preset=True)] == [7, 8, 9]
    assert len(ladder.seed_settings(0, preset=True)) == 1  # below the top, one training
    # Every training is its own cache key.
    keys = {repr(s.to_dict()) for k in range(2) for s in ladder.seed_settings(k, preset=True)}
    assert len(keys) == 4


_BASE = {"min_steps": 10, "max_steps": 90, "eta": 3}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_steps": 500, "max_steps": 100}, "--max-steps 100 is below --min-steps 500"),
        ({"min_steps": 0}, "--min-steps must be at least 1"),
        ({"eta": 0.5}, "--eta must be above 1"),
        ({"eta": 1}, "--eta must be above 1"),
        ({"widths": [0.0]}, "--widths must be positive"),
        ({"widths": [0.1, 0.2]}, "one per rung (3 rungs"),
        ({"top_seeds": 0}, "--top-seeds must be at least 1"),
    ],
)
def test_a_ladder_that_cannot_be_built_is_one_clear_line(changes, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")) as caught:
        Ladder.geometric(ProxySettings(), **{**_BASE, **changes})
    assert "\n" not in str(caught.value)


def test_a_rung_result_is_a_mean_with_its_standard_error():
    rung = Rung(2, ProxySettings(), seeds=3)
    result = RungResult.from_top1(rung, [0.60, 0.62, 0.67], [1.0, None, 3.0], 12.0)
    assert result.top1 == pytest.approx(0.63)
    spread = math.sqrt(((0.03**2) + (0.01**2) + (0.04**2)) / 2)
    assert result.stderr == pytest.approx(spread / math.sqrt(3))
    assert result.loss == pytest.approx(2.0)
    row = result.to_dict()
    assert (row["label"], row["steps"], row["seeds"]) == ("rung-2", 125, 3)
    assert RungResult.from_top1(rung, [0.6]).stderr is None  # one seed cannot tell its noise
    with pytest.raises(ValueError):
        RungResult.from_top1(rung, [])
