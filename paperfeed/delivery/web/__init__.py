"""The web site and REST API (FastAPI): `create_app(ctx)` builds it."""
