"""Settings: one documented table, read from TOML, environment and overrides, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import SETTINGS, load_settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_every_setting_has_help_and_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for s in SETTINGS:
        assert s.help.strip(), s.name
        assert f"`{s.env_var}`" in doc, f"{s.env_var} missing from docs/settings.md (run make docs)"


def test_precedence_toml_env_override(tmp_path: Path) -> None:
    (tmp_path / "paperfeed.toml").write_text(
        'port = 9000\nbase_url = "http://toml"\narxiv_delay = 5\n'
    )
    env = {"PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_BASE_URL": "http://env"}
    s = load_settings(environ=env)
    assert (s.port, s.base_url, s.arxiv_delay) == (9000, "http://env", 5.0)
    s = load_settings({"base_url": "http://cli"}, environ=env)
    assert s.base_url == "http://cli"
    assert s.db_url == f"sqlite:///{tmp_path / 'paperfeed.db'}"


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PAPERFEED_PORT"):
        load_settings(environ={"PAPERFEED_PORT": "eighty", "PAPERFEED_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({"colour": "red"}, environ={})
    with pytest.raises(ConfigError, match="env"):
        load_settings({"env": "staging"}, environ={"PAPERFEED_DATA_DIR": str(tmp_path)})
    (tmp_path / "paperfeed.toml").write_text("port = [")
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(environ={"PAPERFEED_DATA_DIR": str(tmp_path)})
