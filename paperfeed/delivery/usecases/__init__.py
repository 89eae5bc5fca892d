"""The use cases, written once: CLI commands, web pages, the API and email are thin adapters over them.

- listing: a day's / week's / month's papers most upvoted first, trending (web, API, feeds, CLI, digests)
- papers: look a paper up by id, arXiv id or reference, a paper as data (the one dict shape), upvote counts, BibTeX
- submissions: submit a paper by arXiv id or URL, process the queue (through the ingest path)
- community: vote, collect, collections as data
- subscriptions: change a subscription (the rules checked), make sure one exists, save a search, follow
- sources: follow, list, show and stop following a source (database or settings file), health and
  status (the harvest itself is the job in delivery/harvest.py)
"""
