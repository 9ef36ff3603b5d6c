"""The journal key of an `agent()` call: what makes two calls the same work (label and phase excluded)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def agent_key(prompt: str, opts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the prompt and the behaviour-changing options."""
    material = {
        "prompt": prompt,
        "schema": opts.get("schema"),
        "model": opts.get("model"),
        "effort": opts.get("effort"),
        "agentType": opts.get("agentType"),
        "isolation": opts.get("isolation"),
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
