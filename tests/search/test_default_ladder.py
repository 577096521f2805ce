"""Which ladder ``lce-nas search`` trains with: the benchmark's default, each flag
changing its own part, the single-fidelity switch, and a study resuming with the
ladder it was made with (single fidelity included)."""

from __future__ import annotations

import pytest
from lce_nas.search.fidelity import DEFAULT_ETA, DEFAULT_MAX_STEPS, DEFAULT_WIDTHS, Ladder
from lce_nas.search.run import SearchSettings
from lce_nas.workers.trainer import ProxySettings
from stand_in_pool import ladder_study

from lce_nas.cli.options import proxy_settings
from lce_nas.cli.search_cmds import ladder_settings, search, study_ladder


def settings_of(args: list[str], url: str, name: str = "s", reads=None) -> SearchSettings:
    """The settings ``lce-nas search ARGS`` would run with (parsed by the real command).

    ``reads`` (a list) gets one entry per read of the stored ladder.
    """

    def stored():
        if reads is not None:
            reads.append(name)
        return study_ladder(url, name)

    context = search.make_context("search", list(args))
    with context:
        p = context.params
        fields = ladder_settings(
            p["max_steps"], p["min_steps"], p["eta"], p["widths"], p["top_seeds"],
            p["single_fidelity"], stored,
        )  # fmt: skip
        proxy = proxy_settings(p["epochs"], p["subset"], p["width"], p["batch_size"])
    return SearchSettings(name, trials=1, proxy=proxy, **fields)


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ladders.db'}"


def rungs(settings: SearchSettings) -> list[tuple[int, float, int]]:
    return [(r.steps, r.width, r.seeds) for r in settings.ladder().rungs]


def test_the_default_is_the_benchmarks_two_rung_ladder(url):
    settings = settings_of([], url)
    assert rungs(settings) == [(125, 0.0625, 1), (DEFAULT_MAX_STEPS, 0.125, 2)]
    assert tuple(r.width for r in settings.ladder().rungs) == DEFAULT_WIDTHS
    assert settings.ladder().eta == DEFAULT_ETA == 4
    assert settings.ladder().preset_seeds == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--top-seeds", "3"], [(125, 0.0625, 1), (500, 0.125, 3)]),
        (["--width", "0.25"], [(125, 0.25, 1), (500, 0.25, 2)]),
        (["--widths", "0.125"], [(125, 0.125, 1), (500, 0.125, 2)]),
        # A ladder of another shape trains at the proxy's width, eta 3, unless told.
        (["--max-steps", "1125"], [(125, 0.0625, 1), (375, 0.0625, 1), (1125, 0.0625, 2)]),
        (["--min-steps", "55"], [(56, 0.0625, 1), (167, 0.0625, 1), (500, 0.0625, 2)]),
        (["--eta", "2", "--min-steps", "90"], [(125, 0.0625, 1), (250, 0.0625, 1),
                                               (500, 0.0625, 2)]),
    ],
)  # fmt: skip
def test_each_flag_changes_its_own_part_of_the_default(url, args, expected):
    assert rungs(settings_of(args, url)) == expected


@pytest.mark.parametrize(
    "args", [["--single-fidelity"], ["--epochs", "2"], ["--subset", "500", "--width", "0.25"]]
)
def test_single_fidelity_trains_once_with_the_proxy_as_given(url, args):
    settings = settings_of(args, url)
    assert settings.max_steps is None and settings.ladder().is_single
    assert settings.ladder() == Ladder.single(settings.proxy)
    assert settings.ladder().to_dict() is None  # what studies made before ladders keep


def test_an_old_single_fidelity_study_resumes_without_flags(url):
    ladder_study(url, "old", SearchSettings("old", trials=1))  # made before ladders
    settings = settings_of([], url, "old")
    assert settings.ladder().is_single and settings.proxy == ProxySettings()
    ladder_study(url, "old", settings)  # refused if the ladders differed


def test_a_ladder_study_resumes_with_its_own_ladder(url):
    made = SearchSettings(
        "mine", trials=1, min_steps=40, max_steps=360, eta=3, widths=(0.0625, 0.125, 0.25),
        top_seeds=3,
    )  # fmt: skip
    ladder_study(url, "mine", made)
    again = settings_of([], url, "mine")
    assert again.ladder() == made.ladder()
    ladder_study(url, "mine", again)
    # Flags given again are that ladder's, not the stored one's.
    assert rungs(settings_of(["--top-seeds", "2"], url, "mine"))[-1] == (500, 0.125, 2)


@pytest.mark.parametrize(
    ("args", "read"),
    [([], 1), (["--top-seeds", "2"], 0), (["--single-fidelity"], 0), (["--epochs", "2"], 0)],
)
def test_the_stored_ladder_is_read_only_when_no_flag_sets_one(url, args, read):
    ladder_study(url, "mine", SearchSettings("mine", trials=1, max_steps=375))
    reads: list[str] = []
    settings_of(args, url, "mine", reads)
    assert len(reads) == read
