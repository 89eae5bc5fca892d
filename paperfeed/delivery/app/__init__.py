"""Every use case, once, one module per noun: the CLI, the web pages, the API, the feeds, the mail
and the worker are thin adapters over these functions."""
