"""Planted topics: four themes with their own words, categories and vectors; one grows week over
week."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from paperfeed.core.models import Paper

WEEKS = 8
FIRST_MONDAY = date(2026, 1, 5)
LAST_DAY = FIRST_MONDAY + timedelta(days=7 * WEEKS - 1)  # a Sunday
# theme -> (its own words, primary category); "diffusion" is the one that grows
THEMES: dict[str, tuple[tuple[str, ...], str]] = {
    "diffusion": (("diffusion", "denoising", "sampler", "latent", "image", "generation"), "cs.CV"),
    "graphs": (("graph", "node", "message", "passing", "molecule", "edge"), "cs.LG"),
    "quantum": (
        ("quantum", "qubit", "entanglement", "circuit", "fidelity", "hamiltonian"),
        "quant-ph",
    ),
    "robots": (("robot", "grasping", "manipulation", "gripper", "trajectory", "arm"), "cs.RO"),
}
GROWING = "diffusion"
COMMON = ("we", "study", "learning", "data", "model", "training", "evaluation", "benchmark",
          "accuracy", "large", "efficient", "framework")


def per_week(theme: str, week: int) -> int:
    """Papers of a theme in a week: 10 a week, the growing 2, 4, 6, ... (1/6 to 1/2 of all)."""
    return 2 + 2 * week if theme == GROWING else 10


@dataclass
class Planted:
    """The planted papers (no ids yet), their themes and vectors, row-aligned."""

    papers: list[Paper]
    themes: list[str]
    vectors: npt.NDArray[np.float32]
    votes: list[int]

    def texts(self) -> list[str]:
        """Title and abstract of each paper."""
        return [f"{p.title}. {p.abstract}" for p in self.papers]


def planted(dim: int = 32, weeks: int = WEEKS) -> Planted:
    """The deterministic planted corpus (random.Random(42), numpy default_rng(42))."""
    rnd = random.Random(42)
    rng = np.random.default_rng(42)
    centres = {t: rng.normal(size=dim) for t in THEMES}
    papers: list[Paper] = []
    themes: list[str] = []
    vecs: list[npt.NDArray[np.float64]] = []
    votes: list[int] = []
    for week in range(weeks):
        for theme, (own, cat) in THEMES.items():
            for i in range(per_week(theme, week)):
                n = len(papers)
                title = " ".join(rnd.choice(own) for _ in range(4)).capitalize()
                abstract = (
                    " ".join([*(rnd.choice(own) for _ in range(12)), *rnd.sample(COMMON, 6)]) + "."
                )
                day = FIRST_MONDAY + timedelta(days=7 * week + rnd.randrange(5))
                papers.append(Paper(
                    title=f"{title} {theme} study {week}-{i}", abstract=abstract,
                    arxiv_id=f"2601.{n + 1:05d}", version=1, authors=(f"Author {n}",),
                    categories=(cat, "stat.ML") if n % 3 == 0 else (cat,), published=day,
                    announced_on=day, external_upvotes=rnd.randrange(4), source="jsonl"))
                themes.append(theme)
                vecs.append(centres[theme] + rng.normal(scale=0.5, size=dim))
                votes.append(papers[-1].external_upvotes or 0)
    return Planted(papers, themes, np.asarray(vecs, dtype=np.float32), votes)
