"""The architecture rule: a module imports only from its own layer or layers to its left."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "paperfeed"
LAYERS = ["core", "sources", "store", "index", "ranking", "delivery"]


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "paperfeed" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def violations() -> list[str]:
    """Every import that points from a layer to one on its right."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) < 2 or rel.parts[0] not in LAYERS:
            continue
        own = LAYERS.index(rel.parts[0])
        for module in _imports(path):
            layer = _layer_of(module)
            if layer is not None and LAYERS.index(layer) > own:
                bad.append(f"{rel}: imports {module} ({layer} is right of {rel.parts[0]})")
    return bad


def test_every_layer_has_a_package() -> None:
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").exists(), layer


def test_no_module_imports_from_a_layer_to_its_right() -> None:
    assert violations() == []


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from paperfeed.delivery.cli import main\nimport paperfeed.ranking.search\n")
    assert _imports(bad) == ["paperfeed.delivery.cli", "paperfeed.ranking.search"]
    assert _layer_of("paperfeed.delivery.cli") == "delivery"


def test_sql_stays_in_the_store() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "store":
            continue
        for module in _imports(path):
            if module.split(".")[0] in {"sqlalchemy", "sqlite3", "psycopg", "alembic"}:
                offenders.append(f"{rel}: {module}")
    assert offenders == []
