"""Journal keys: what makes two `agent()` calls (label and phase excluded), or two `workflow()` calls, the
same work."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _digest(material: dict[str, Any]) -> str:
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def agent_key(prompt: str, opts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the prompt and the behaviour-changing options."""
    return _digest(
        {
            "prompt": prompt,
            "schema": opts.get("schema"),
            "model": opts.get("model"),
            "effort": opts.get("effort"),
            "agentType": opts.get("agentType"),
            "isolation": opts.get("isolation"),
        }
    )


def workflow_key(ref: Any, args: Any) -> str:
    """SHA-256 of the canonical JSON of a `workflow()` call's reference (name or {scriptPath}) and args."""
    return _digest({"ref": ref, "args": args})
