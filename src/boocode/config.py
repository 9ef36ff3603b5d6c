"""Effective settings: environment first, then `$BOOCODE_HOME/config.toml`, then defaults.

`load_settings()` is the only place that reads the environment for boocode's own settings; everything
else receives a `Settings`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from boocode.errors import ConfigError

ProviderName = Literal["local", "openai", "anthropic"]
PROVIDERS: tuple[ProviderName, ...] = ("local", "openai", "anthropic")
SECRET_FIELDS = frozenset({"api_key"})


@dataclass(frozen=True)
class ToolPolicySettings:
    """Which tools agents may use: `allow`/`deny` name tools; `bash_allow` are shell-style patterns of
    commands `bash` may run without `bash` being allowed outright."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    bash_allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    provider: ProviderName = "local"
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    local_model: Path | None = None
    models_dir: Path | None = None
    max_retries: int = 4
    request_timeout: float = 600.0
    max_turns: int = 50
    max_output_tokens: int = 4096
    runaway_chars: int = 1500
    stall_seconds: float = 180.0
    stall_attempts: int = 6
    structured_attempts: int = 5
    max_concurrent_agents: int = 16
    script_heap_mb: int = 256
    script_cpu_seconds: float = 5.0
    run_timeout_seconds: float | None = None
    prefix_stagger_ms: int = 5000
    run_lease_seconds: float = 15.0
    search_url: str | None = None
    search_backend: str = "searxng"
    source_dirs: tuple[Path, ...] = ()
    subagent_depth: int = 2
    subagents_per_parent: int = 8
    subagents_total: int = 50
    tools: ToolPolicySettings = field(default_factory=ToolPolicySettings)
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def models_path(self) -> Path:
        """Where downloaded and assembled local models are kept."""
        return self.models_dir or self.home / "models"

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, source) rows for `boocode config`, secrets masked."""
        rows: list[tuple[str, str, str]] = []
        for f in fields(self):
            if f.name in ("sources", "tools"):
                continue
            value = self.models_path if f.name == "models_dir" else getattr(self, f.name)
            if isinstance(value, tuple):
                value = ",".join(map(str, value))
            shown = mask_secret(value) if f.name in SECRET_FIELDS else ("" if value is None else str(value))
            rows.append((f.name, shown, self.sources.get(f.name, "default")))
        for name in ("allow", "deny", "bash_allow"):
            value = getattr(self.tools, name)
            rows.append((f"tools.{name}", ",".join(value), self.sources.get(f"tools.{name}", "default")))
        return rows


def mask_secret(value: object) -> str:
    """Show only that a secret is set and its last four characters."""
    if not value:
        return ""
    text = str(value)
    return "****" if len(text) < 12 else f"****{text[-4:]}"


def _parse_int(text: str, name: str, lo: int, hi: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    if not lo <= number <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {number}")
    return number


def _parse_float(text: str, name: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {number}")
    return number


def _parse_list(text: str | list[Any], name: str) -> tuple[str, ...]:
    if isinstance(text, list):
        if not all(isinstance(x, str) for x in text):
            raise ConfigError(f"{name} must be a list of strings")
        return tuple(text)
    return tuple(x.strip() for x in text.split(",") if x.strip())


# setting name -> (environment variable, config-file key, parser)
_SIMPLE: dict[str, tuple[str, str, Callable[[str, str], Any]]] = {
    "db_url": ("BOOCODE_DB_URL", "db_url", lambda v, n: v),
    "base_url": ("BOOCODE_BASE_URL", "base_url", lambda v, n: v),
    "api_key": ("BOOCODE_API_KEY", "api_key", lambda v, n: v),
    "model": ("BOOCODE_MODEL", "model", lambda v, n: v),
    "local_model": ("BOOCODE_LOCAL_MODEL", "local_model", lambda v, n: Path(v).expanduser()),
    "models_dir": ("BOOCODE_MODELS_DIR", "models_dir", lambda v, n: Path(v).expanduser()),
    "max_retries": ("BOOCODE_MAX_RETRIES", "max_retries", lambda v, n: _parse_int(v, n, 0, 20)),
    "request_timeout": ("BOOCODE_REQUEST_TIMEOUT", "request_timeout", _parse_float),
    "max_turns": ("BOOCODE_MAX_TURNS", "max_turns", lambda v, n: _parse_int(v, n, 1, 10_000)),
    "max_output_tokens": (
        "BOOCODE_MAX_OUTPUT_TOKENS",
        "max_output_tokens",
        lambda v, n: _parse_int(v, n, 1, 1_000_000),
    ),
    "runaway_chars": (
        "BOOCODE_RUNAWAY_CHARS",
        "runaway_chars",
        lambda v, n: _parse_int(v, n, 0, 1_000_000),
    ),
    "stall_seconds": ("BOOCODE_STALL_SECONDS", "stall_seconds", _parse_float),
    "stall_attempts": ("BOOCODE_STALL_ATTEMPTS", "stall_attempts", lambda v, n: _parse_int(v, n, 1, 100)),
    "structured_attempts": (
        "MAX_STRUCTURED_OUTPUT_RETRIES",
        "structured_attempts",
        lambda v, n: _parse_int(v, n, 1, 100),
    ),
    "max_concurrent_agents": (
        "BOOCODE_MAX_CONCURRENT_AGENTS",
        "max_concurrent_agents",
        lambda v, n: _parse_int(v, n, 1, 256),
    ),
    "script_heap_mb": ("BOOCODE_SCRIPT_HEAP_MB", "script_heap_mb", lambda v, n: _parse_int(v, n, 16, 16384)),
    "script_cpu_seconds": ("BOOCODE_SCRIPT_CPU_SECONDS", "script_cpu_seconds", _parse_float),
    "run_timeout_seconds": ("BOOCODE_RUN_TIMEOUT_SECONDS", "run_timeout_seconds", _parse_float),
    "prefix_stagger_ms": (
        "BOOCODE_PREFIX_STAGGER_MS",
        "prefix_stagger_ms",
        lambda v, n: _parse_int(v, n, 0, 600_000),
    ),
    "run_lease_seconds": ("BOOCODE_RUN_LEASE_SECONDS", "run_lease_seconds", _parse_float),
    "search_url": ("BOOCODE_SEARCH_URL", "search_url", lambda v, n: v),
    "search_backend": ("BOOCODE_SEARCH_BACKEND", "search_backend", lambda v, n: v),
    "subagent_depth": ("BOOCODE_SUBAGENT_DEPTH", "subagent_depth", lambda v, n: _parse_int(v, n, 0, 10)),
    "subagents_per_parent": (
        "BOOCODE_SUBAGENTS_PER_PARENT",
        "subagents_per_parent",
        lambda v, n: _parse_int(v, n, 1, 256),
    ),
    "subagents_total": (
        "BOOCODE_SUBAGENTS_TOTAL",
        "subagents_total",
        lambda v, n: _parse_int(v, n, 1, 100_000),
    ),
}
_TOOLS = {"allow": "BOOCODE_ALLOW_TOOLS", "deny": "BOOCODE_DENY_TOOLS", "bash_allow": "BOOCODE_BASH_ALLOW"}
# Provider-specific fallbacks used when the BOOCODE_ variable is unset.
_FALLBACK_ENV = {
    ("openai", "api_key"): "OPENAI_API_KEY",
    ("openai", "base_url"): "OPENAI_BASE_URL",
    ("anthropic", "api_key"): "ANTHROPIC_API_KEY",
    ("anthropic", "base_url"): "ANTHROPIC_BASE_URL",
}
# Claude Code's own variable, honoured when boocode's is unset (invalid values keep the default, as there).
_CLAUDE_CONCURRENCY = "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS"


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the effective settings from `env` (default `os.environ`), the config file and defaults.

    Keyword `overrides` (from the command line) win over everything.
    """
    env = os.environ if env is None else env
    home = Path(env.get("BOOCODE_HOME") or "~/.boocode").expanduser()
    config_path = home / "config.toml"
    file_values = _read_file(config_path)
    sources: dict[str, str] = {"home": "env" if env.get("BOOCODE_HOME") else "default"}
    values: dict[str, Any] = {"home": home}

    provider_text = env.get("BOOCODE_PROVIDER") or file_values.get("provider")
    if provider_text is not None:
        sources["provider"] = "env" if env.get("BOOCODE_PROVIDER") else str(config_path)
        if provider_text not in PROVIDERS:
            raise ConfigError(
                f"unknown provider {provider_text!r} (from {sources['provider']}); "
                f"choose one of: {', '.join(PROVIDERS)}"
            )
        values["provider"] = provider_text
    provider = values.get("provider", "local")

    for name, (env_name, file_key, parse) in _SIMPLE.items():
        raw: Any = env.get(env_name)
        source = "env"
        fallback = _FALLBACK_ENV.get((provider, name))
        if raw in (None, "") and fallback and env.get(fallback):
            raw, source = env[fallback], f"env {fallback}"
        if raw in (None, "") and file_key in file_values:
            raw, source = file_values[file_key], str(config_path)
        if raw in (None, ""):
            continue
        label = f"{file_key} in {source}" if source == str(config_path) else env_name
        values[name] = parse(str(raw), label)
        sources[name] = source

    claude_stagger = env.get("CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS", "")
    if "prefix_stagger_ms" not in values and claude_stagger.isdigit():
        values["prefix_stagger_ms"] = int(claude_stagger)
        sources["prefix_stagger_ms"] = "env CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS"
    claude_cap = env.get(_CLAUDE_CONCURRENCY, "")
    if "max_concurrent_agents" not in values and claude_cap.isdigit() and 1 <= int(claude_cap) <= 256:
        values["max_concurrent_agents"] = int(claude_cap)
        sources["max_concurrent_agents"] = f"env {_CLAUDE_CONCURRENCY}"

    tool_file = file_values.get("tools", {})
    tool_values: dict[str, tuple[str, ...]] = {}
    for name, env_name in _TOOLS.items():
        if env.get(env_name):
            tool_values[name] = _parse_list(env[env_name], env_name)
            sources[f"tools.{name}"] = "env"
        elif name in tool_file:
            tool_values[name] = _parse_list(tool_file[name], f"tools.{name} in {config_path}")
            sources[f"tools.{name}"] = str(config_path)
    values["tools"] = ToolPolicySettings(**tool_values)

    # Folders of documents outside the project that search_docs/read_doc may read.
    dirs = env.get("BOOCODE_SOURCE_DIRS") or file_values.get("source_dirs")
    if dirs:
        name = "BOOCODE_SOURCE_DIRS" if env.get("BOOCODE_SOURCE_DIRS") else f"source_dirs in {config_path}"
        values["source_dirs"] = tuple(Path(d).expanduser() for d in _parse_list(dirs, name))
        sources["source_dirs"] = "env" if env.get("BOOCODE_SOURCE_DIRS") else str(config_path)

    for key, value in overrides.items():
        if value is not None:
            values[key] = value
            sources[key] = "command line"

    values.setdefault("db_url", f"sqlite+aiosqlite:///{home / 'boocode.db'}")
    values["sources"] = sources
    return Settings(**values)
