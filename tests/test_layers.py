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


def _module_name(path: Path) -> str:
    rel = path.resolve().relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str | None = None) -> list[str]:
    """Every module a file imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if package is None:
        try:
            name = _module_name(path)
        except ValueError:  # a file outside the package (the checker's own tests)
            name = ""
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                # `from . import x` in a.b.c is a.b.x; each extra dot climbs one package
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([node.module] if node.module else []))
            if node.module is None and node.level:
                found.extend(f"{base}.{alias.name}" for alias in node.names)
            elif base:
                found.append(base)
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
    bad.write_text(
        "from paperfeed.delivery.cli.main import main\nimport paperfeed.ranking.search\n"
    )
    assert _imports(bad) == ["paperfeed.delivery.cli.main", "paperfeed.ranking.search"]
    assert _layer_of("paperfeed.delivery.cli.main") == "delivery"


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


# ----- what issue #8 removed stays removed ------------------------------------------------------

ROOT = PACKAGE.parent
MAX_LINES = 500
# Methods that write index files: jobs call them, the search path never does.
INDEX_WRITERS = {
    "refresh",
    "build",
    "embed",
    "ensure_fresh",
    "_refresh_locked",
    "_build_lexical_locked",
    "_swap",
    "write_segment",
    "write_atomic",
    "atomic_file",
    "refresh_index_after_ingest",
}


def _modules(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def _calls(path: Path) -> list[tuple[str, str]]:
    """(enclosing function, called name) for every call in a module (name: last attribute or the
    function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, str]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            if isinstance(child, ast.Call):
                f = child.func
                called = (
                    f.attr
                    if isinstance(f, ast.Attribute)
                    else f.id
                    if isinstance(f, ast.Name)
                    else ""
                )
                out.append((name, called))
            visit(child, name)

    visit(tree, "<module>")
    return out


def test_every_module_is_under_500_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _modules("paperfeed", "tests", "benchmarks")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and "migrations" not in p.parts
    ]
    assert long == []


# ----- inside delivery: one folder per kind of thing, imports one way
# ---------------------------------
# common -> mail -> app -> jobs -> {cli, web}: a folder imports only from itself and those before
# it.
DELIVERY = {
    "common": set(),
    "mail": {"common"},
    "app": {"common", "mail"},
    "jobs": {"common", "mail", "app"},
    "cli": {"common", "mail", "app", "jobs"},
    "web": {"common", "mail", "app", "jobs"},
}
FRAMEWORKS = ("click", "fastapi", "starlette", "uvicorn")
# Only `paperfeed serve` builds the web app; it is the one CLI module that may import web/.
SERVE = "cli/serve.py"


def _delivery_violation(rel: str, module: str) -> str | None:
    """Why `module` may not be imported from delivery/<rel>, or None when it may."""
    folder = rel.split("/")[0]
    if module.split(".")[0] in FRAMEWORKS and folder in ("common", "mail", "app", "jobs"):
        return f"{module} is an adapter's framework"
    parts = module.split(".")
    if parts[:2] != ["paperfeed", "delivery"] or len(parts) < 3:
        return None
    target = parts[2]
    if target == folder or target in DELIVERY.get(folder, set()):
        return None
    if rel == SERVE and target == "web":
        return None
    return f"delivery/{target} is not before delivery/{folder}"


def test_delivery_is_one_folder_per_kind() -> None:
    """Every delivery module lives in common/, mail/, app/, jobs/, cli/ or web/."""
    loose = [p.name for p in sorted((PACKAGE / "delivery").glob("*.py")) if p.name != "__init__.py"]
    folders = {p.name for p in (PACKAGE / "delivery").iterdir() if (p / "__init__.py").exists()}
    assert loose == []
    assert folders == set(DELIVERY)


def test_delivery_folders_import_one_way() -> None:
    bad = []
    for p in sorted((PACKAGE / "delivery").rglob("*.py")):
        rel = p.relative_to(PACKAGE / "delivery").as_posix()
        if "/" not in rel:
            continue
        bad += [
            f"delivery/{rel}: {m} ({why})"
            for m in _imports(p)
            if (why := _delivery_violation(rel, m))
        ]
    assert bad == []


def test_the_delivery_checker_catches_a_bad_import() -> None:
    assert _delivery_violation("app/papers.py", "paperfeed.delivery.web.deps") is not None
    assert _delivery_violation("app/papers.py", "fastapi") is not None
    assert _delivery_violation("mail/compose.py", "paperfeed.delivery.app.accounts") is not None
    assert _delivery_violation("cli/main.py", "paperfeed.delivery.web.app") is not None
    assert _delivery_violation("cli/serve.py", "paperfeed.delivery.web.app") is None
    assert _delivery_violation("web/api.py", "paperfeed.delivery.app.papers") is None
    assert _delivery_violation("jobs/worker.py", "paperfeed.delivery.cli.common") is not None


def test_only_the_web_server_command_builds_the_web_app() -> None:
    """The CLI does not build the web app to run a use case (only `serve` needs it)."""
    bad = [
        f"{SERVE}: {fn} builds the web app"
        for fn, called in _calls(PACKAGE / "delivery" / SERVE)
        if called == "create_app" and fn not in ("serve", "_get_once")
    ]
    assert bad == []


def test_ranking_and_delivery_do_not_touch_the_stores_sql() -> None:
    bad = [
        f"{p.relative_to(PACKAGE)}: {m}"
        for p in _modules("paperfeed/ranking", "paperfeed/delivery", "paperfeed/index")
        for m in _imports(p)
        if m in ("paperfeed.store.schema", "paperfeed.store.migrations")
    ]
    assert bad == []


def test_the_search_path_holds_no_index_writer() -> None:
    """ranking/ (the query evaluator) and the web adapters only read the index."""
    bad = []
    for p in _modules("paperfeed/ranking", "paperfeed/delivery/web"):
        bad += [
            f"{p.relative_to(PACKAGE)}: {fn} calls {c}" for fn, c in _calls(p) if c in INDEX_WRITERS
        ]
        bad += [f"{p.relative_to(PACKAGE)}: imports {m}" for m in _imports(p)
                if m in ("paperfeed.delivery.app.indexing", "paperfeed.core.util")]
    search_index = (PACKAGE / "index" / "search_index.py").read_text(encoding="utf-8")
    reader = search_index[
        search_index.index("def reload_if_changed") : search_index.index("# ----- writing")
    ]
    assert not any(w + "(" in reader for w in INDEX_WRITERS)
    assert bad == []


def test_one_home_for_each_use_case() -> None:
    """Ensure-subscription, saving one, paper lookup by reference, the atomic write and batching are
    written once."""
    bad = []
    for p in _modules("paperfeed"):
        rel = p.relative_to(PACKAGE)
        calls = _calls(p)
        by_fn: dict[str, set[str]] = {}
        for fn, c in calls:
            by_fn.setdefault(fn, set()).add(c)
        if rel.parts[:2] != ("delivery", "app") and rel.parts[0] != "store":
            bad += [f"{rel}: {fn} ensures a subscription itself" for fn, cs in by_fn.items()
                    if {"get_subscription", "save_subscription"} <= cs]
            if rel.parts[0] == "delivery":
                bad += [
                    f"{rel}: {fn} parses a paper reference itself"
                    for fn, c in calls
                    if c == "parse_arxiv_ref"
                ]
                bad += [
                    f"{rel}: {fn} orders a listing or ranks trending itself (app.listing)"
                    for fn, c in calls
                    if c in ("order_by_votes", "rank_trending", "landing_day")
                ]
                bad += [
                    f"{rel}: {fn} looks a paper up by arXiv id itself (app.papers.paper_by_arxiv)"
                    for fn, c in calls
                    if c == "get_paper_by_arxiv" and rel.parts[1] == "web"
                ]
        text = p.read_text(encoding="utf-8")
        if rel != Path("core/util.py"):
            if "mkstemp(" in text:
                bad.append(f"{rel}: its own atomic write (use core.util.atomic_file)")
            if "def _chunks" in text or "def chunks" in text:
                bad.append(f"{rel}: its own chunks()")
        if (
            rel.parts[:2] != ("delivery", "app")
            and rel.parts[0] != "store"
            and ".subscriptions.save_subscription(" in text
        ):
            bad.append(
                f"{rel}: saves a subscription past its rules (call "
                "app.subscriptions.save_subscription)"
            )
        if rel.parts[0] != "core" and "SECTION_TITLES = " in text:
            bad.append(f"{rel}: its own list of digest sections")
        if "importlib.import_module" in text:
            bad.append(f"{rel}: loads a module by name (import it, typed)")
    assert bad == []


def test_the_call_checker_sees_writes(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("def search(index):\n    index.refresh()\n    return write_segment([], None)\n")
    assert _calls(bad) == [("search", "refresh"), ("search", "write_segment")]
