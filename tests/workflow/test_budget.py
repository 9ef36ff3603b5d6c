from __future__ import annotations

import asyncio

import pytest

from boocode.workflow.budget import Budget, BudgetExhausted


async def test_unlimited_budget_grants_the_cap() -> None:
    budget = Budget(None)
    assert await budget.reserve(500) == 500
    await budget.settle(500, 10_000)
    assert budget.spent == 10_000 and budget.remaining() is None


async def test_concurrent_reservations_never_exceed_the_total() -> None:
    budget = Budget(1000)
    grants = [await budget.reserve(400), await budget.reserve(400)]
    waiter = asyncio.create_task(budget.reserve(400))  # only 200 free while two agents hold theirs
    await asyncio.sleep(0)
    assert not waiter.done() and budget.remaining() == 200
    await budget.settle(grants[0], 100)  # 300 comes back unused
    assert await waiter == 400
    assert budget.spent + budget.reserved <= 1000


async def test_last_tokens_are_granted_then_the_budget_is_gone() -> None:
    budget = Budget(1000)
    first = await budget.reserve(800)
    await budget.settle(first, 800)
    assert await budget.reserve(800) == 200  # nobody else holds tokens: take what is left
    await budget.settle(200, 200)
    with pytest.raises(BudgetExhausted, match="1000 of 1000 tokens spent"):
        await budget.reserve(1)


async def test_a_waiter_fails_when_the_holders_spend_everything() -> None:
    budget = Budget(500)
    held = await budget.reserve(500)
    waiter = asyncio.create_task(budget.reserve(100))
    await asyncio.sleep(0)
    await budget.settle(held, 500)
    with pytest.raises(BudgetExhausted):
        await waiter
