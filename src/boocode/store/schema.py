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
    false,
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
    # Ownership: the process running the run renews its lease; an expired lease means nobody runs it.
    Column("owner", String(120), nullable=True),
    _ts("lease_expires_at", nullable=True),
    _ts("stop_requested_at", nullable=True),
    Column("resume_count", Integer, nullable=False, server_default="0"),
    # A nested run is the parent's `workflow()` call number `call_occurrence` with key `call_key`.
    Column("call_key", String(64), nullable=True),
    Column("call_occurrence", Integer, nullable=True),
    Index("ix_runs_started_at", "started_at"),
    Index("uq_runs_call", "parent_run_id", "call_key", "call_occurrence", unique=True),
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
    # Journal: one row per (key, occurrence); `idx` is the start position in attempt `resume_no` (0 = the
    # first run) that last reached the call; `attempts` counts live executions; `cached` says that attempt
    # served the stored result.
    Column("resume_no", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("cached", Boolean, nullable=False, server_default=false()),
    Index("uq_run_agents_journal", "run_id", "key", "occurrence", unique=True),
)

run_logs = Table(
    "run_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False, index=True),
    Column("message", Text, nullable=False),
    _ts("created_at"),
)

# Every event a run emits, in order: the server's live stream tails this table (the id is the SSE event id),
# so runs in other processes can be watched too.
run_events = Table(
    "run_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("data", JSON, nullable=False),
    _ts("created_at"),
)

# Background tasks: subagents and workflow runs an agent started (`boocode.tasks`). The process running a task
# keeps a lease on it; a queued or running task whose lease expired was interrupted.
tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("parent_session_id", String(40), ForeignKey("sessions.id"), nullable=True),
    Column("depth", Integer, nullable=False),
    Column("detached", Boolean, nullable=False, server_default=false()),
    Column("rerun_of", String(40), ForeignKey("tasks.id"), nullable=True),
    Column("prompt", Text, nullable=False),
    Column("label", Text, nullable=True),
    Column("agent_type", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("json_schema", JSON, nullable=True),
    Column("session_id", String(40), ForeignKey("sessions.id"), nullable=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=True),
    Column("script_path", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("turns", Integer, nullable=False, server_default="0"),
    Column("tool_calls", Integer, nullable=False, server_default="0"),
    Column("last_tool", Text, nullable=True),
    Column("usage", JSON, nullable=True),
    Column("owner", String(120), nullable=True),
    _ts("lease_expires_at", nullable=True),
    _ts("cancel_requested_at", nullable=True),
    _ts("created_at"),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    # When the parent agent was told the task ended (a note in its next turn, or the result it collected).
    _ts("notified_at", nullable=True),
    Index("ix_tasks_created_at", "created_at"),
    Index("ix_tasks_parent_session_id", "parent_session_id"),
    Index("ix_tasks_status", "status"),
)
