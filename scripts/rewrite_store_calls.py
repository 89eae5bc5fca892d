"""Rewrite `store.<method>(...)` call sites to `store.<repository>.<method>(...)` from mypy's
errors.

Store stopped inheriting its repositories (issue 22): `store.get_paper(...)` is now
`store.papers.get_paper(...)`. For code written against the old Store (a branch merged later), run
mypy over it and pipe the output here, from the repository root; repeat until nothing is left:

mypy --show-column-numbers --no-error-summary paperfeed tests | python
scripts/rewrite_store_calls.py

Each `"Store" has no attribute "X"` names a call site; `"AlertRepo" not callable` is the one method
named like its repository (`store.alerts(...)` -> `store.alerts.alerts(...)`).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

REPOSITORIES = (
    "alerts",
    "authors",
    "collections",
    "comments",
    "deliveries",
    "groups",
    "leases",
    "papers",
    "profiles",
    "runs",
    "sources",
    "submissions",
    "subscriptions",
    "users",
    "votes",
)
ERROR = re.compile(
    r'^([^:]+):(\d+):(\d+): error: (?:"Store" has no attribute "(\w+)"|"(\w+)Repo" not callable)'
)


def owners() -> dict[str, str]:
    """Method name -> the Store attribute of the repository that has it."""
    out: dict[str, str] = {}
    for attr in REPOSITORIES:
        tree = ast.parse(Path(f"paperfeed/store/{attr}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Repo"):
                out.update({f.name: attr for f in node.body if isinstance(f, ast.FunctionDef)})
    return out


def main() -> None:
    """Read mypy's output on stdin and rewrite the files it names."""
    owner = owners()
    todo: dict[str, set[tuple[int, int, str]]] = defaultdict(set)
    for line in sys.stdin:
        m = ERROR.match(line)
        if not m:
            continue
        path, row, col, name, repo = m.groups()
        name = name or repo.lower() + "s"
        if name in owner:
            todo[path].add((int(row), int(col), name))
    for path, sites in todo.items():
        file = Path(path)
        text = file.read_text()
        starts = [0]
        for piece in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(piece))
        at: set[tuple[int, str]] = set()
        for row, col, name in sites:
            found = re.compile(rf"\.(\s*){name}\b").search(text, starts[row - 1] + col - 1)
            assert found, (path, row, name)
            at.add((found.start(), f".{owner[name]}"))
        for offset, insert in sorted(at, reverse=True):
            text = text[:offset] + insert + text[offset:]
        file.write_text(text)
        print(path, len(at))


if __name__ == "__main__":
    main()
