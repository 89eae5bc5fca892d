"""What every delivery entry point needs: resolved settings and an open store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paperfeed.core.settings import Settings, load_settings
from paperfeed.store import Store, open_store


@dataclass
class AppContext:
    """Settings plus the store opened from them."""

    settings: Settings
    store: Store

    def close(self) -> None:
        """Release the database."""
        self.store.close()


def open_context(settings: Settings | None = None, migrate: bool = True, **overrides: Any) -> AppContext:
    """Load settings (with overrides) and open the store they name."""
    resolved = settings or load_settings({k: v for k, v in overrides.items() if v is not None})
    resolved.data_path.mkdir(parents=True, exist_ok=True)
    return AppContext(resolved, open_store(resolved.db_url, migrate=migrate))
