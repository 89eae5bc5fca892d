"""Ranking layer: pure functions (search fusion, similar, trending, digest selection)."""
