from __future__ import annotations

from pathlib import Path

import pytest

from boocode.config import load_settings, mask_secret
from boocode.errors import ConfigError


def test_defaults_live_under_the_home(tmp_path: Path) -> None:
    s = load_settings(env={"BOOCODE_HOME": str(tmp_path)})
    assert s.provider == "local"
    assert s.db_url == f"sqlite+aiosqlite:///{tmp_path / 'boocode.db'}"
    assert s.models_path == tmp_path / "models"


def test_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'provider = "anthropic"\nmodel = "from-file"\nmax_retries = 7\n[tools]\nallow = ["bash"]\n'
    )
    s = load_settings(env={"BOOCODE_HOME": str(tmp_path), "BOOCODE_MODEL": "from-env"})
    assert (s.provider, s.model, s.max_retries, s.tools.allow) == ("anthropic", "from-env", 7, ("bash",))
    assert s.sources["model"] == "env" and s.sources["max_retries"] == str(tmp_path / "config.toml")


def test_provider_specific_keys_are_used(tmp_path: Path) -> None:
    env = {
        "BOOCODE_HOME": str(tmp_path),
        "BOOCODE_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-secret-1234567890",
    }
    s = load_settings(env=env)
    assert s.api_key == "sk-secret-1234567890"
    shown = dict((name, value) for name, value, _ in s.describe())
    assert shown["api_key"] == "****7890"
    assert "secret" not in " ".join(v for _, v, _ in s.describe())
    anthropic = load_settings(env={**env, "BOOCODE_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "ak"})
    assert anthropic.api_key == "ak"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOOCODE_PROVIDER": "gemini"}, "unknown provider 'gemini'"),
        ({"BOOCODE_MAX_RETRIES": "lots"}, "BOOCODE_MAX_RETRIES must be a whole number"),
        ({"BOOCODE_MAX_RETRIES": "99"}, "between 0 and 20"),
        ({"BOOCODE_REQUEST_TIMEOUT": "-1"}, "greater than 0"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={"BOOCODE_HOME": str(tmp_path), **env})


def test_broken_config_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("provider = \n")
    with pytest.raises(ConfigError, match=r"config\.toml: cannot read config file"):
        load_settings(env={"BOOCODE_HOME": str(tmp_path)})


def test_mask_secret() -> None:
    assert mask_secret(None) == ""
    assert mask_secret("short") == "****"
