"""What `driftline demo` prints for the shadow phase and the watch as each starts and ends."""

from __future__ import annotations

from driftline.cli.demo import phase_line
from driftline.core import ShadowRow


def shadow(purpose: str, status: str, reason: str = "") -> ShadowRow:
    """A shadow record as the store returns it: version 2 beside version 1, or version 1 watching version 2."""
    version, champion = (2, 1) if purpose == "candidate" else (1, 2)
    return ShadowRow(
        id=1,
        started_at=0.0,
        finished_at=None,
        version=version,
        champion_version=champion,
        purpose=purpose,
        status=status,
        needed_rows=1000,
        reason=reason,
        evidence={},
    )


def test_a_starting_shadow_says_what_it_waits_for() -> None:
    """A running candidate's line names both versions and the labelled requests it needs."""
    expected = "[demo] shadow: candidate v2 predicts beside v1 until 1000 of those requests have labels"
    assert expected == phase_line(shadow("candidate", "running"))


def test_an_ended_watch_says_the_decision_and_why() -> None:
    """A watch that ended names the promoted version, the decision in words and its reason."""
    expected = (
        "[demo] watch: v2 was promoted; v1, which it replaced, predicts beside it: rolled back: worse on live requests"
    )
    assert expected == phase_line(shadow("watch", "rolled_back", "worse on live requests"))


def test_a_reason_that_names_the_decision_is_not_repeated() -> None:
    """A reason that starts with the decision, as the monitor's verdicts do, is printed once."""
    expected = "[demo] shadow: candidate v2 predicts beside v1: promoted: gain +0.119 roc_auc"
    assert expected == phase_line(shadow("candidate", "promoted", "promoted: gain +0.119 roc_auc"))
