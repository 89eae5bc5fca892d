"""Identifiers and normalisation."""

from __future__ import annotations

import pytest

from paperfeed.core.models import normalise_space, normalise_title, parse_arxiv_ref, split_arxiv_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2503.11731", ("2503.11731", None)),
        ("2503.11731v3", ("2503.11731", 3)),
        ("arXiv:2503.11731v2", ("2503.11731", 2)),
        ("https://arxiv.org/abs/2503.11731", ("2503.11731", None)),
        ("https://arxiv.org/pdf/2503.11731v1.pdf", ("2503.11731", 1)),
        ("https://huggingface.co/papers/2503.11731", ("2503.11731", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
    ],
)
def test_parse_arxiv_ref(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_ref(text) == expected


def test_bad_ids_are_named() -> None:
    with pytest.raises(ValueError, match="not-an-id"):
        parse_arxiv_ref("not-an-id")
    with pytest.raises(ValueError, match="2503"):
        split_arxiv_id("2503")


def test_normalisation() -> None:
    assert normalise_title("Attention Is All You Need!") == normalise_title(
        "attention is  all you need"
    )
    assert normalise_space("a\n  b\tc ") == "a b c"
