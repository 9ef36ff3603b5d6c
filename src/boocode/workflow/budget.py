"""A run's token budget: atomic admission, so concurrent branches can never spend past the total.

Each agent reserves its output-token cap before it starts (or what is left, when less) and gives back what it
did not use when it ends. An agent that cannot reserve waits while others hold reservations (they may come
back unused), and fails only when the budget is really gone.
"""

from __future__ import annotations

import asyncio


class BudgetExhausted(Exception):
    """No output tokens are left for another agent."""


class Budget:
    """Output-token budget shared by a run and its nested workflows; `total=None` means unlimited."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.spent = 0
        self.reserved = 0
        self._changed = asyncio.Condition()

    def remaining(self) -> int | None:
        """Tokens neither spent nor reserved by running agents; None when unlimited."""
        return None if self.total is None else max(0, self.total - self.spent - self.reserved)

    async def reserve(self, cap: int) -> int:
        """Reserve up to `cap` output tokens for one agent and return how many it may use."""
        if self.total is None:
            return cap
        async with self._changed:
            while True:
                free = self.total - self.spent - self.reserved
                if free >= cap or (free > 0 and self.reserved == 0):
                    grant = min(cap, free)
                    self.reserved += grant
                    return grant
                if self.reserved == 0:
                    raise BudgetExhausted(
                        f"budget exhausted: {self.spent} of {self.total} tokens spent; "
                        "agent() cannot start more agents"
                    )
                await self._changed.wait()

    async def settle(self, granted: int, used: int) -> None:
        """An agent that reserved `granted` tokens ended having used `used` (counted even if over)."""
        async with self._changed:
            self.spent += used
            if self.total is not None:
                self.reserved -= granted
            self._changed.notify_all()
