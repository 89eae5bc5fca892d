"""The use cases, written once: CLI commands, web pages, the API and email are thin adapters over them.

- papers: look a paper up by reference, a paper as data (the one dict shape), upvote counts, BibTeX
- submissions: submit a paper by arXiv id or URL, process the queue (through the ingest path)
- community: vote, collect, collections as data
- subscriptions: make sure a subscription exists, save a search, follow
"""
