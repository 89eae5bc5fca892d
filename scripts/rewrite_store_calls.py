"""Rewrite `store.<method>(...)` call sites to `store.<repository>.<method>(...)` from mypy's errors.

Run mypy with --show-column-numbers over the tree after Store stopped inheriting the repositories,
pipe its output here: every `"Store" has no attribute "X"` names a call site to rewrite.
"""
import ast, collections, pathlib, re, sys

MODS = {"alerts": "alerts", "authors": "authors", "collections": "collections", "comments": "comments",
        "deliveries": "deliveries", "groups": "groups", "leases": "leases", "papers": "papers",
        "profiles": "profiles", "runs": "runs", "sources": "sources", "submissions": "submissions",
        "subscriptions": "subscriptions", "users": "users", "votes": "votes"}
owner = {}
for m, attr in MODS.items():
    t = ast.parse(pathlib.Path(f"paperfeed/store/{m}.py").read_text())
    for c in t.body:
        if isinstance(c, ast.ClassDef) and c.name.endswith("Repo"):
            for f in c.body:
                if isinstance(f, ast.FunctionDef):
                    owner[f.name] = attr
pat = re.compile(r'^([^:]+):(\d+):(\d+): error: (?:"Store" has no attribute "(\w+)"|"(\w+)Repo" not callable)')
todo = collections.defaultdict(set)
for line in sys.stdin:
    m = pat.match(line)
    if not m:
        continue
    path, ln, col, name, repo = m.groups()
    if name is None:
        name = repo.lower() + "s"  # "AlertRepo" not callable: store.alerts(...) -> store.alerts.alerts(...)
    if name not in owner:
        print("unknown", line.strip()); continue
    todo[path].add((int(ln), int(col), name))
for path, sites in todo.items():
    p = pathlib.Path(path); text = p.read_text()
    starts = [0]
    for l in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(l))
    edits = []
    for ln, col, name in sites:
        off = starts[ln - 1] + col - 1
        m = re.compile(r"\.(\s*)%s\b" % name).search(text, off)
        assert m, (path, ln, name)
        edits.append((m.start(), f".{owner[name]}"))
    for off, ins in sorted(set(edits), reverse=True):
        text = text[:off] + ins + text[off:]
    p.write_text(text)
    print(path, len(edits))
