"""Row identifiers: a short type prefix and random hex, readable in logs and URLs.

The random bytes come from the operating system's generator, read 4 KiB at a time: one `os.urandom` call
per id cost 160 µs of a 1000-agent fan-out's CPU per id on a sandboxed kernel where system calls are
slow (5 ids per agent; bench/workflow_fanout.py). A forked child drops the parent's unread bytes, so two
processes never hand out the same id.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096
_ID_BYTES = 8


class _RandomPool:
    """Random bytes from `os.urandom`, fetched in chunks and handed out once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._used = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._used + count > len(self._bytes):
                self._bytes, self._used = os.urandom(_CHUNK), 0
            start, self._used = self._used, self._used + count
            return self._bytes[start : self._used]

    def forget(self) -> None:
        """Drop the unread bytes (in a forked child, they are the parent's too)."""
        self._bytes, self._used = b"", 0
        self._lock = threading.Lock()


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.forget)


def new_id(prefix: str) -> str:
    """A fresh id such as `ses_3f9a1c0b7d2e4f61`."""
    return f"{prefix}_{_POOL.take(_ID_BYTES).hex()}"
