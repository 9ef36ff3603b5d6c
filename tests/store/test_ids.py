"""Row ids: prefixed random hex, unique within a process and across a fork."""

from __future__ import annotations

import os
import re

from boocode.store.ids import new_id


def test_ids_are_prefixed_hex_and_unique_across_chunks() -> None:
    ids = [new_id("ses") for _ in range(3000)]  # several 4 KiB chunks of random bytes
    assert all(re.fullmatch(r"ses_[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_never_repeats_the_parents_next_id() -> None:
    new_id("x")  # the pool now holds unread bytes the child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_id("run").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"run_[0-9a-f]{16}", child)
    assert child != new_id("run")
