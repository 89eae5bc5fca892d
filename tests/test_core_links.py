"""Code and project links found in abstracts and comments; the source's own link wins."""

from __future__ import annotations

from paperfeed.core.links import find_text_links, with_text_links
from paperfeed.core.models import Paper
from paperfeed.store import Store


def test_github_url_in_an_abstract_becomes_the_code_link() -> None:
    found = find_text_links(
        None,
        "We release code at https://github.com/org/Repo-1.git. Also see (https://gitlab.com/a/b).",
    )
    assert found.code == "https://github.com/org/Repo-1"
    assert found.project is None


def test_comment_first_then_abstract_and_bare_hosts() -> None:
    found = find_text_links(
        "Code: github.com/x/y; demo https://huggingface.co/spaces/x/demo).",
        "https://github.com/z/w",
    )
    assert found.code == "https://github.com/x/y"
    assert found.project == "https://huggingface.co/spaces/x/demo"


def test_non_repository_urls_are_ignored() -> None:
    found = find_text_links(
        "See https://huggingface.co/papers/2502.1 and https://github.com/orgs/foo and "
        "https://example.org"
    )
    assert found == type(found)(None, None)
    assert (
        find_text_links("Project page: https://my-lab.github.io/proj/.").project
        == "https://my-lab.github.io/proj"
    )


def test_source_link_wins_over_the_text() -> None:
    p = Paper(
        title="t",
        abstract="Code: https://github.com/text/repo",
        code_url="https://github.com/source/repo",
    )
    assert with_text_links(p).code_url == "https://github.com/source/repo"
    q = Paper(title="t", abstract="Code: https://github.com/text/repo")
    assert with_text_links(q).code_url == "https://github.com/text/repo"
    assert with_text_links(Paper(title="t", abstract="no links")) == Paper(
        title="t", abstract="no links"
    )


def test_stored_paper_shows_text_link_until_a_source_gives_its_own(store: Store) -> None:
    store.papers.upsert_papers([Paper(title="T", arxiv_id="2602.00001", version=1,
                               abstract="Code at https://github.com/from/abstract.", comment=None)])
    got = store.papers.get_paper_by_arxiv("2602.00001")
    assert got is not None and got.code_url == "https://github.com/from/abstract"
    store.papers.upsert_papers(
        [
            Paper(
                title="T",
                arxiv_id="2602.00001",
                code_url="https://github.com/hf/own",
                source="hf-daily",
            )
        ]
    )
    got = store.papers.get_paper_by_arxiv("2602.00001")
    assert got is not None and got.code_url == "https://github.com/hf/own"
