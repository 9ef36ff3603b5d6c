"""Row identifiers: a short type prefix and random hex, readable in logs and URLs."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """A fresh id such as `ses_3f9a1c0b7d2e4f61`."""
    return f"{prefix}_{secrets.token_hex(8)}"
