"""Just-in-case B12 / folate with iron. [coprescribing] window_days = 14 (either side)."""

import pytest

from tests.rules.staged_builder import day, episode


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    for pid, folate_day in [("J14", 14), ("J15", 15), ("JM14", -14), ("JM15", -15)]:
        s.patient(pid)
        s.rx(pid, day(0), "iron_oral")
        s.rx(pid, day(folate_day), "folate")
    s.patient("JDEF")
    s.rx("JDEF", day(0), "iron_oral")
    s.rx("JDEF", day(0), "folate")
    s.lab("JDEF", day(-3), "folate", 5)
    s.patient("JNORMAL")
    s.rx("JNORMAL", day(0), "iron_oral")
    s.rx("JNORMAL", day(0), "folate")
    s.lab("JNORMAL", day(-3), "folate", 20)
    s.patient("JB12IND")
    s.rx("JB12IND", day(0), "iron_oral")
    s.rx("JB12IND", day(2), "b12")
    s.lab("JB12IND", day(-3), "b12", 200)
    s.patient("JB12DEF")
    s.rx("JB12DEF", day(0), "iron_oral")
    s.rx("JB12DEF", day(2), "b12")
    s.lab("JB12DEF", day(-3), "b12", 100)
    s.patient("JAFTER")
    s.rx("JAFTER", day(0), "iron_oral")
    s.rx("JAFTER", day(0), "folate")
    s.lab("JAFTER", day(3), "folate", 3)
    s.patient("JCOMBO")
    s.rx("JCOMBO", day(0), "iron_folate")
    s.patient("JPREG", pregnancy_start=day(-60), pregnancy_end=day(150))
    s.rx("JPREG", day(0), "iron_oral")
    s.rx("JPREG", day(0), "folate")
    s.patient("JNOIRON")
    s.rx("JNOIRON", day(0), "folate")
    return s.classify()


@pytest.mark.parametrize("pid, expected", [("J14", True), ("J15", False), ("JM14", True), ("JM15", False)])
def test_window_either_side_inclusive(out, pid, expected):
    assert bool(episode(out, pid, "folate").is_just_in_case) is expected


@pytest.mark.parametrize(
    "pid, agent, expected",
    [
        ("JDEF", "folate", False),  # prior folate 5 < 7: deficiency shown
        ("JNORMAL", "folate", True),  # tested, normal
        ("JB12IND", "b12", True),  # indeterminate is not deficiency shown
        ("JB12DEF", "b12", False),
        ("JAFTER", "folate", True),  # a test only after the start does not count
        ("JCOMBO", "folate", True),  # iron + folic acid product
        ("JNOIRON", "folate", False),
    ],
)  # no iron at all
def test_just_in_case_needs_no_prior_deficiency(out, pid, agent, expected):
    assert bool(episode(out, pid, agent).is_just_in_case) is expected


def test_excluded_episode_is_not_just_in_case(out):
    e = episode(out, "JPREG", "folate")
    assert (bool(e.is_just_in_case), e.excluded_reason) == (False, "pregnancy_folate_prophylaxis")


def test_iron_is_never_just_in_case(out):
    assert not out["episodes"][out["episodes"].agent == "iron"].is_just_in_case.any()
