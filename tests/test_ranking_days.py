"""The landing day of the daily page and the staleness notice."""

from __future__ import annotations

from datetime import date

from paperfeed.ranking.days import Landing, format_day, landing_day, staleness_notice

DAYS = [date(2026, 2, 27), date(2026, 2, 26), date(2024, 4, 30)]


def test_today_with_papers_opens_today_without_notice() -> None:
    assert landing_day(None, date(2026, 2, 27), DAYS) == Landing(date(2026, 2, 27))


def test_today_without_papers_opens_the_latest_day_and_says_so() -> None:
    got = landing_day(None, date(2026, 12, 1), DAYS)
    assert got.day == date(2026, 2, 27)
    assert got.notice is not None and "27 Feb 2026" in got.notice and "1 Dec 2026" in got.notice


def test_requested_day_and_empty_instance() -> None:
    assert landing_day(date(2024, 4, 30), date(2026, 12, 1), DAYS) == Landing(date(2024, 4, 30))
    assert landing_day(None, date(2026, 12, 1), []) == Landing(None)
    # Clock behind the data (papers dated in the future): the newest day not after today.
    assert landing_day(None, date(2026, 2, 26), DAYS).day == date(2026, 2, 26)


def test_staleness_notice() -> None:
    assert staleness_notice(date(2026, 2, 27), date(2026, 2, 27)) is None
    assert staleness_notice(date(2026, 2, 27), None) is None
    note = staleness_notice(date(2026, 12, 1), date(2026, 2, 27))
    assert note is not None and "newest papers: 27 Feb 2026" in note
    assert format_day(date(2026, 2, 7)) == "7 Feb 2026"
