"""What every delivery entry point needs: resolved settings and an open store."""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.core.errors import ConfigError
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


def open_context(
    settings: Settings | None = None, migrate: bool = True, **overrides: object
) -> AppContext:
    """Load settings (with overrides) and open the store they name."""
    resolved = settings or load_settings({k: v for k, v in overrides.items() if v is not None})
    resolved.data_path.mkdir(parents=True, exist_ok=True)
    if migrate and resolved.is_production:
        return AppContext(resolved, open_production_store(resolved))
    return AppContext(resolved, open_store(resolved.db_url, migrate=migrate))


def open_production_store(settings: Settings) -> Store:
    """In production an outdated schema is not migrated on the fly: `paperfeed db migrate` backs up
    first."""
    store = open_store(settings.db_url, migrate=False)
    try:
        current = store.current_revision()
        if current is not None and current != store.head_revision():
            raise ConfigError(
                f"the database schema is at {current}, this paperfeed needs "
                f"{store.head_revision()}: "
                "run `paperfeed db migrate` (it takes a backup first)"
            )
        if current is None:
            store.migrate()  # an empty database: nothing to lose
    except ConfigError:
        store.close()
        raise
    except Exception as exc:  # noqa: BLE001 - unreachable database, bad credentials
        store.close()
        raise ConfigError(f"cannot open database {settings.db_url.split('@')[-1]}: {exc}") from None
    return store
