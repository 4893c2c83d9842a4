"""A smaller month of the compliance simulation: the rule holds, nothing is wrongly deleted."""

from __future__ import annotations

from pathlib import Path

from benchmarks.compliance_simulation import SimulationConfig, simulate


def test_a_month_of_daily_runs_keeps_the_rule_and_deletes_only_the_unavailable(
    tmp_path: Path,
) -> None:
    config = SimulationConfig(users=200, requests_per_day=100, days=30)

    result = simulate(config, tmp_path)

    print(result.report(config))
    assert len(result.oldest_refresh_days) == 30
    assert max(result.oldest_refresh_days) <= 15
    assert result.turned_unavailable == 4 * 4  # 2% of 200, on days 7, 14, 21 and 28
    assert result.answered_unavailable > 0
    assert result.rows_left_of_answered == 0
    assert result.transient_failures > 0  # the faults did happen ...
    assert result.deletions_of_available == 0  # ... and deleted nothing
    assert result.deletions == result.answered_unavailable
    assert max(result.requests) <= 100
    assert result.holds()
