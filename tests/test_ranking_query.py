"""Query syntax: phrases, exclusions, fields, dates; bad syntax falls back with a notice."""

from __future__ import annotations

from datetime import date

from paperfeed.ranking.query import parse_query


def test_full_syntax() -> None:
    q = parse_query('"large language" model -vision author:"Yann LeCun" cat:cs.CL year:2024')
    assert q.words == ("model",) and q.phrases == ("large language",)
    assert q.excluded == ("vision",) and q.authors == ("Yann LeCun",) and q.categories == ("cs.CL",)
    assert (q.since, q.until) == (date(2024, 1, 1), date(2024, 12, 31)) and q.notices == ()
    assert q.positive_text == "model large language"


def test_since_until_periods() -> None:
    q = parse_query("x since:2024-05 until:2024-06")
    assert (q.since, q.until) == (date(2024, 5, 1), date(2024, 6, 30))
    q = parse_query("until:2023 since:2022-02-03")
    assert (q.since, q.until) == (date(2022, 2, 3), date(2023, 12, 31))
    assert parse_query("year:2020-2022").since == date(2020, 1, 1)
    assert parse_query("year:2020..2022").until == date(2022, 12, 31)


def test_bad_syntax_falls_back_to_words_with_a_notice() -> None:
    q = parse_query('foo "bar baz')
    assert q.words == ("foo", "bar", "baz") and q.phrases == () and q.notices
    q = parse_query("since:2024-13-40 graphs")
    assert q.since is None and "2024-13-40" in q.words and "not a date" in q.notices[0]
    q = parse_query("year:twenty")
    assert q.words == ("twenty",) and q.notices
    q = parse_query("author: x")
    assert q.authors == () and q.notices
    q = parse_query("since:2024 until:2020")
    assert q.since is None and q.until is None and q.notices
    q = parse_query("-cat:cs.CL")
    assert q.categories == () and q.notices


def test_unknown_prefixes_and_odd_input_are_words() -> None:
    assert parse_query("COVID-19: a review").words == ("COVID-19:", "a", "review")
    assert parse_query("arXiv:2401.00001").words == ("arXiv:2401.00001",)
    assert parse_query("").words == () and parse_query("   ").notices == ()
    assert parse_query('-"exact words" x').excluded_phrases == ("exact words",)
    assert parse_query('"single"').words == ("single",)
    assert parse_query("- -").notices == ()
