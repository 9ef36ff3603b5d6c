from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.agent.stagger import PrefixStagger
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.types import Message, ModelRequest, TextPart, ToolSpec
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest

MakeRuntime = Callable[..., Awaitable[AgentRuntime]]


def request(system: str, prompt: str = "p") -> ModelRequest:
    tool = ToolSpec("t", "a tool", {"type": "object"})
    return ModelRequest("m", [Message("user", [TextPart(prompt)])], system=system, tools=[tool])


async def test_followers_wait_for_the_leader_of_their_prefix_only() -> None:
    stagger = PrefixStagger(max_wait=30)
    entered: list[str] = []

    async def one(name: str, system: str, hold: asyncio.Event | None = None) -> None:
        async with stagger.turn(request(system, name)) as warming:
            entered.append(name)
            if hold is not None:
                await hold.wait()
                assert warming is not None
                warming.set()

    go = asyncio.Event()
    leader = asyncio.create_task(one("leader", "shared", go))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(one(f"f{i}", "shared")) for i in range(3)]
    other = asyncio.create_task(one("other", "different"))
    await other
    assert entered == ["leader", "other"]  # a different prefix is not held
    go.set()
    await asyncio.gather(leader, *followers)
    assert sorted(entered[2:]) == ["f0", "f1", "f2"]
    async with stagger.turn(request("shared", "later")) as warming:
        assert warming is None  # warm now: nobody waits


async def test_disabled_stagger_never_waits() -> None:
    stagger = PrefixStagger(max_wait=0)
    async with stagger.turn(request("s")) as a, stagger.turn(request("s")) as b:
        assert a is None and b is None


async def test_fan_out_requests_are_sent_after_the_first_streams(
    fake: FakeLLMServer, make_runtime: MakeRuntime
) -> None:
    arrivals: list[float] = []
    lock = threading.Lock()

    def responder(r: FakeRequest) -> FakeReply:
        with lock:
            arrivals.append(time.monotonic())
            first = len(arrivals) == 1
        return FakeReply(text="ok", delay=0.5 if first else 0)

    fake.responder = responder
    provider = OpenAIProvider(fake.openai_base_url, "k", "fake-model")
    runtime = await make_runtime(provider)
    runtime.stagger = PrefixStagger(max_wait=30)
    results = await asyncio.gather(*(run_agent(AgentSpec(f"task {i}", tools=[]), runtime) for i in range(4)))
    assert all(r.status == "completed" for r in results)
    assert len(arrivals) == 4
    assert min(arrivals[1:]) - arrivals[0] >= 0.45  # held until the first reply began streaming
