"""The cache shape of inference calls: how much of their prompt input the provider served from its cache.

One call's shape splits its input tokens (`input_total`, which includes cached input) into cache read, cache
write and uncached input. Shapes of many calls (an agent, a phase, a run) add up as sums of token counts,
never as averages of percentages. A call counts once it reported its input tokens; it has cache figures when
it reported `cache_read` or `cache_write` (the other one is then taken as 0).

- No counted call has cache figures: the share is "n/a" (None), not 0%.
- Only some do (partial reporting): the bar and the share cover the calls with cache figures; the input
  tokens of the others are kept apart as `unreported_input` and the share is marked as partial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CacheShape:
    """Summed cache figures of `calls` calls that reported input tokens; `reported` of them had cache
    figures, and `input_total`, `cache_read` and `cache_write` sum those calls only."""

    calls: int = 0
    reported: int = 0
    input_total: int = 0
    cache_read: int = 0
    cache_write: int = 0
    unreported_input: int = 0

    @classmethod
    def of_call(cls, input_total: int | None, cache_read: int | None, cache_write: int | None) -> CacheShape:
        """The shape of one call from its stored usage (None: not reported)."""
        if input_total is None:
            return cls()
        if cache_read is None and cache_write is None:
            return cls(calls=1, unreported_input=input_total)
        return cls(
            calls=1,
            reported=1,
            input_total=input_total,
            cache_read=cache_read or 0,
            cache_write=cache_write or 0,
        )

    def __add__(self, other: CacheShape) -> CacheShape:
        return CacheShape(
            calls=self.calls + other.calls,
            reported=self.reported + other.reported,
            input_total=self.input_total + other.input_total,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
            unreported_input=self.unreported_input + other.unreported_input,
        )

    @property
    def uncached(self) -> int:
        """Input tokens of the reporting calls neither read from nor written to the cache."""
        return max(0, self.input_total - self.cache_read - self.cache_write)

    @property
    def read_share(self) -> float | None:
        """cache_read / input_total of the reporting calls; None ("n/a") when no call reported."""
        if self.reported == 0 or self.input_total <= 0:
            return None
        return self.cache_read / self.input_total

    @property
    def partial(self) -> bool:
        """Some counted calls had cache figures and others did not."""
        return 0 < self.reported < self.calls

    def label(self) -> str:
        """The badge's label: the read share as a whole percentage ("n/a" when not reported, "*" partial)."""
        share = self.read_share
        if share is None:
            return "n/a"
        return f"{percent(share)}%" + ("*" if self.partial else "")

    def text(self) -> str:
        """One line for the terminal, with the same numbers as the badge."""
        if self.read_share is None:
            why = "no calls yet" if self.calls == 0 else "not reported by the provider"
            return f"cache n/a ({why})"
        line = (
            f"cache {self.label()} read: {self.cache_read} read + {self.cache_write} write + "
            f"{self.uncached} uncached = {self.input_total} input tokens"
        )
        if self.partial:
            line += (
                f" (cache reported by {self.reported} of {self.calls} calls; "
                f"{self.unreported_input} more input tokens unreported)"
            )
        return line

    def brief(self) -> str:
        """The badge's numbers in a few words, for one line per agent."""
        if self.read_share is None:
            return "cache n/a"
        counts = f"{self.cache_read} read + {self.cache_write} write + {self.uncached} uncached"
        return f"cache {self.label()} ({counts})"

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "reported_calls": self.reported,
            "input_tokens": self.input_total,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "uncached": self.uncached,
            "unreported_input": self.unreported_input,
            "read_share": self.read_share,
            "label": self.label(),
        }


def percent(share: float) -> int:
    """A share as a whole percentage, halves rounded up (the web UI rounds the same way)."""
    return math.floor(share * 100 + 0.5)
