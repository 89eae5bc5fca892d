"""`python -m paperfeed` runs the CLI."""

from __future__ import annotations

from paperfeed.delivery.cli.main import main

if __name__ == "__main__":
    main()
