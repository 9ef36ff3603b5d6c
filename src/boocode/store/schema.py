"""The database schema (SQLAlchemy Core). Migrations in `boocode/store/migrations` must match it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


projects = Table(
    "projects",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("root", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    _ts("created_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("parent_session_id", String(40), ForeignKey("sessions.id"), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("model", Text, nullable=False),
    Column("agent_type", Text, nullable=True),
    Column("json_schema", JSON, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("turns", Integer, nullable=False, default=0),
    Column("tool_calls", Integer, nullable=False, default=0),
    _ts("created_at"),
    _ts("finished_at", nullable=True),
    Index("ix_sessions_created_at", "created_at"),
)

chats = Table(
    "chats",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_id", String(40), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("system_prompt", Text, nullable=True),
    _ts("created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("chat_id", String(40), ForeignKey("chats.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(20), nullable=False),
    _ts("created_at"),
    UniqueConstraint("chat_id", "seq"),
)

message_parts = Table(
    "message_parts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("message_id", String(40), ForeignKey("messages.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=True),
    Column("tool_call_id", Text, nullable=True),
    Column("tool_name", Text, nullable=True),
    Column("data", JSON, nullable=True),
    Column("is_error", Boolean, nullable=True),
    Column("media_type", String(40), nullable=True),
    Column("blob", LargeBinary, nullable=True),
    UniqueConstraint("message_id", "seq"),
)

inference_calls = Table(
    "inference_calls",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_id", String(40), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("chat_id", String(40), ForeignKey("chats.id"), nullable=False),
    Column("turn", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("provider", String(40), nullable=False),
    Column("model", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("stop_reason", String(20), nullable=True),
    _ts("started_at"),
    Column("latency_ms", Float, nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("input_total", Integer, nullable=True),
    Column("cache_read", Integer, nullable=True),
    Column("cache_write", Integer, nullable=True),
    Column("output", Integer, nullable=True),
    Column("reasoning", Integer, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("parent_run_id", String(40), ForeignKey("runs.id"), nullable=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("script", Text, nullable=False),
    Column("script_sha256", String(64), nullable=False),
    Column("script_path", Text, nullable=True),
    Column("args", JSON, nullable=True),
    Column("status", String(20), nullable=False),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("failures", JSON, nullable=True),
    Column("budget_total", Integer, nullable=True),
    _ts("started_at"),
    _ts("finished_at", nullable=True),
    Index("ix_runs_started_at", "started_at"),
)

run_agents = Table(
    "run_agents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False, index=True),
    Column("idx", Integer, nullable=False),
    Column("label", Text, nullable=False),
    Column("phase", Text, nullable=True),
    Column("prompt", Text, nullable=False),
    Column("options", JSON, nullable=True),
    Column("key", String(64), nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("session_id", String(40), ForeignKey("sessions.id"), nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("cache_read_tokens", Integer, nullable=True),
    Column("tool_uses", Integer, nullable=False, default=0),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    UniqueConstraint("run_id", "idx"),
)

run_logs = Table(
    "run_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False, index=True),
    Column("message", Text, nullable=False),
    _ts("created_at"),
)
