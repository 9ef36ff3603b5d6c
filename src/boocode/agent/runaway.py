"""Ending a reply that repeats itself instead of letting it run to the output cap.

Small local models sometimes fall into a loop in the middle of a reply: a JSON string that repeats its last
words until the token cap (measured in bench/quality's deep-research runs: 10 of 11 Qwen2.5-Coder-0.5B
searchers in their first reply, 5 of 10 searchers of the 1.5B, each 1.5B one costing ~5 minutes of CPU
before the cap ended it). Such a reply cannot be used, and the cap would end it as a failure anyway:
`RepetitionGuard` spots it as it streams in, so the turn ends at once with `RunawayReply`.

A reply has run away when its last `span` characters (`BOOCODE_RUNAWAY_CHARS`, default 1500) are one unit of
at most `span // MIN_REPEATS` characters repeated exactly: at least 8 copies back to back. Text a model
writes on purpose, code included, rarely repeats a unit exactly for that long (a table of similar lines
differs in its values); truly periodic data does (1500 characters of `0, 1, ..., 9, ` in a list), which is
what the setting is for; 0 turns the guard off.
"""

from __future__ import annotations

from typing import Final

MIN_REPEATS: Final = 8
# Characters streamed between checks: a check compares up to span // MIN_REPEATS slices of the tail.
CHECK_EVERY: Final = 128


class RunawayReply(Exception):
    """A reply that was stopped because it repeats one unit over and over."""

    def __init__(self, unit: str, chars: int) -> None:
        shown = unit if len(unit) <= 60 else unit[:57] + "..."
        super().__init__(
            f"the reply was stopped after {chars} characters: it kept repeating {shown!r} "
            "(a runaway reply; BOOCODE_RUNAWAY_CHARS sets how long a repetition is allowed, 0 allows any)"
        )
        self.unit = unit
        self.chars = chars


def repeated_unit(text: str, span: int) -> str | None:
    """The shortest unit whose back-to-back copies make up the last `span` characters of `text` (and one
    copy before them), if it is at most `span // MIN_REPEATS` characters long; else None."""
    if span <= 0:
        return None
    tail = text[-span:]
    for size in range(1, span // MIN_REPEATS + 1):
        if len(text) < span + size:
            return None
        if tail == text[-span - size : -size]:
            return text[-size:]
    return None


class RepetitionGuard:
    """Watches one stream of text (a reply's text, or its reasoning) for a runaway repetition."""

    def __init__(self, span: int) -> None:
        self.span = span
        self.chars = 0
        self._tail = ""
        self._checked_at = 0

    def feed(self, text: str) -> None:
        """Add streamed text; raises `RunawayReply` once the stream has run away."""
        if self.span <= 0 or not text:
            return
        self.chars += len(text)
        self._tail = (self._tail + text)[-2 * self.span :]
        if self.chars - self._checked_at < CHECK_EVERY:
            return
        self._checked_at = self.chars
        unit = repeated_unit(self._tail, self.span)
        if unit is not None:
            raise RunawayReply(unit, self.chars)
