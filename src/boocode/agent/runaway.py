"""Ending a reply that repeats itself instead of letting it run to the output cap.

Small local models sometimes fall into a loop in the middle of a reply: a JSON string that repeats its last
words until the token cap (measured in bench/quality's deep-research runs: 10 of 11 Qwen2.5-Coder-0.5B
searchers in their first reply, 5 of 10 searchers of the 1.5B, each 1.5B one costing ~5 minutes of CPU
before the cap ended it). Such a reply cannot be used, and the cap would end it as a failure anyway:
`RepetitionGuard` spots it as it streams in, so the turn ends at once with `RunawayReply`. The agent loop
asks once more without the stopped reply (`prompts.after_runaway`), then fails the agent (kind `runaway`):
on the 0.5B that second chance found evidence for 3 of 11 deep-research questions where the first
replies had found none (bench/quality/NOTES.md).

A reply has run away when its end repeats one unit back to back at least 8 times (`MIN_REPEATS`) over at
least `span` characters (`BOOCODE_RUNAWAY_CHARS`, default 1500), the unit being at most `span // 2`
characters: a phrase repeated (0.5B searchers) is caught at 1500 characters, a 265-character paragraph
repeated (a 0.5B searcher explaining a firmware bug into its query) at about 2100. Text a model writes on
purpose, code included, rarely repeats a unit exactly 8 times (a table of similar lines differs in its
values); truly periodic data does (1500 characters of `0, 1, ..., 9, ` in a list), which is what the setting
is for; 0 turns the guard off.
"""

from __future__ import annotations

from typing import Final

MIN_REPEATS: Final = 8
CHECK_EVERY: Final = 128  # characters streamed between checks
PROBE: Final = 32  # characters at the end whose earlier occurrences give the candidate units


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
    """The shortest unit of at most `span // 2` characters that the end of `text` repeats back to back over
    its last max(`span`, `MIN_REPEATS` x unit) characters (with one more copy before them), or None.

    Candidate units come from where the last `PROBE` characters occur earlier (found by `str.rfind`, nearest
    first), so ordinary text, where they do not recur, costs one search."""
    if span <= 0:
        return None
    probe = min(PROBE, span)
    end = len(text)
    needle = text[-probe:]
    lowest = max(end - probe - span // 2, 0)
    before = end - 1  # an occurrence ends before this index: the needle itself is not one
    while (start := text.rfind(needle, lowest, before)) >= 0:
        size = end - probe - start
        covered = max(span, MIN_REPEATS * size)
        if end < covered + size:
            return None  # a longer unit needs even more text
        if text[-covered:] == text[-covered - size : -size]:
            return text[-size:]
        before = start + probe - 1
    return None


class RepetitionGuard:
    """Watches one stream of text (a reply's text, or its reasoning) for a runaway repetition."""

    def __init__(self, span: int) -> None:
        self.span = span
        self._keep = max(2 * span, (MIN_REPEATS + 1) * (span // 2))  # enough for the longest unit
        self.chars = 0
        self._tail = ""
        self._pending: list[str] = []
        self._checked_at = 0

    def feed(self, text: str) -> None:
        """Add streamed text; raises `RunawayReply` once the stream has run away."""
        if self.span <= 0 or not text:
            return
        self.chars += len(text)
        self._pending.append(text)
        if self.chars - self._checked_at < CHECK_EVERY:
            return
        self._checked_at = self.chars
        self._tail = "".join([self._tail, *self._pending])[-self._keep :]
        self._pending.clear()
        unit = repeated_unit(self._tail, self.span)
        if unit is not None:
            raise RunawayReply(unit, self.chars)
