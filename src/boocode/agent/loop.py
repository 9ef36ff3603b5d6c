"""The agent loop: one agent = one persisted session; the model works with tools until it answers.

`run_agent()` validates everything it can before writing a row, then talks to the provider turn by turn,
runs the tool calls the model makes, validates structured output, restarts a stalled attempt in a fresh
chat (bounded), and records the outcome on the session. When the tool phase ends (a read repeated with
the same arguments, or the turn cap reached) the next request offers no tools and asks for the answer from
the tool outputs above; at the turn cap that one answer turn is the last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from boocode.agent import prompts
from boocode.agent.inference import TurnContext, run_turn
from boocode.agent.runaway import RunawayReply
from boocode.agent.stagger import PrefixStagger
from boocode.agent.stall import Progress, StallWatch
from boocode.agent.structured import check_schema, parse_json_text, validation_error
from boocode.config import Settings
from boocode.errors import ProviderError, UnsupportedInputError
from boocode.llm.provider import Provider
from boocode.llm.retry import RetryPolicy
from boocode.llm.textcalls import extract_text_tool_call
from boocode.llm.types import (
    Effort,
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from boocode.store.ids import new_id
from boocode.store.store import Store
from boocode.tools.base import Tool, ToolContext
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS, execute_tool_call

FailureKind = Literal["provider", "structured", "stall", "turns", "output_cap", "runaway"]
RUNAWAY_RETRIES = 1  # replies asked again after one was stopped for repeating itself


@dataclass
class AgentSpec:
    """What one agent is asked to do. `tools=None` offers every tool of the runtime."""

    prompt: str
    schema: dict[str, Any] | None = None
    model: str | None = None
    effort: Effort | None = None
    images: Sequence[ImagePart] = ()
    tools: Sequence[str] | None = None
    system: str | None = None
    agent_type: str | None = None
    parent_session_id: str | None = None
    root: Path | None = None
    max_output_tokens: int | None = None


class AgentHook(Protocol):
    """A service working alongside every agent of a runtime (`boocode.tasks.TaskService`)."""

    def agent(
        self, session_id: str, spec: AgentSpec, extras: dict[str, Any]
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Wraps the agent's whole run: may put what its tools need into `extras`; on exit, ends what the
        agent left running."""
        ...

    async def notes(self, session_id: str) -> list[str]:
        """Notes for the agent's next turn (a background task it started has ended); each is given once."""
        ...


@dataclass
class AgentEvent:
    """Progress of one agent: kind is started, tool_call, tool_result, turn, warning, stall or finished."""

    kind: str
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentResult:
    session_id: str
    status: Literal["completed", "failed"]
    output: Any
    usage: Usage
    turns: int
    tool_calls: int
    model: str
    error: str | None = None
    failure: FailureKind | None = None


@dataclass
class AgentRuntime:
    """What agents share: settings, the store, the provider and the tools of one project."""

    settings: Settings
    store: Store
    provider: Provider
    project_root: Path
    project_id: str
    tools: Mapping[str, Tool] = field(default_factory=lambda: ALL_TOOLS)
    policy: ToolPolicy = field(default_factory=ToolPolicy)
    temperature: float | None = None
    seed: int | None = None
    retry: RetryPolicy | None = None
    provider_slots: asyncio.Semaphore | None = None
    provider_ready: Callable[[], Awaitable[object]] | None = None
    stagger: PrefixStagger | None = None
    hook: AgentHook | None = None


class AgentFailure(Exception):
    """An agent ended without a result; `kind` tells callers whether to return null or throw."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def run_agent(
    spec: AgentSpec,
    runtime: AgentRuntime,
    on_event: Callable[[AgentEvent], None] | None = None,
    *,
    durable: bool = True,
) -> AgentResult:
    """Run one agent to its end. Bad input raises before anything is stored; a cancelled agent is
    recorded as cancelled and the cancellation propagates.

    The agent's rows are written behind; with `durable` they have committed when this returns. A caller
    that commits something of its own next passes `durable=False` and awaits that write instead (writes
    commit in order), so the agent does not hold its concurrency slot while a commit comes back."""
    if spec.schema is not None:
        check_schema(spec.schema)
    caps = runtime.provider.capabilities
    if spec.images and not caps.images:
        raise UnsupportedInputError(
            f"provider {runtime.provider.name!r} (model {spec.model or runtime.provider.default_model}) "
            "cannot take images; use a vision-capable model"
        )
    agent = _Agent(spec, runtime, on_event or (lambda _e: None), durable)
    return await agent.run()


class _Agent:
    def __init__(
        self, spec: AgentSpec, runtime: AgentRuntime, emit: Callable[[AgentEvent], None], durable: bool
    ) -> None:
        self.spec = spec
        self.durable = durable
        self.rt = runtime
        self.settings = runtime.settings
        self.provider = runtime.provider
        self.model = spec.model or runtime.provider.default_model
        self.emit_raw = emit
        self.session_id = ""
        self.usage = Usage()
        self.turns = 0
        self.tool_calls = 0
        self.output_used = 0
        self.output_cap = spec.max_output_tokens or runtime.settings.max_output_tokens
        names = list(runtime.tools) if spec.tools is None else [n for n in spec.tools if n in runtime.tools]
        self.tools = {name: runtime.tools[name] for name in names if runtime.policy.offers(name)}
        self.via_tool = spec.schema is not None and not runtime.provider.capabilities.native_json_schema
        specs = [tool.spec for tool in self.tools.values()]
        # What the answer phase offers: no tools, or StructuredOutput alone (a schema without native support).
        self.answer_specs: list[ToolSpec] = []
        if self.via_tool and spec.schema is not None:
            structured = ToolSpec(prompts.STRUCTURED_TOOL, "Return the final result.", spec.schema)
            self.answer_specs.append(structured)
        specs += self.answer_specs
        self.tool_specs = specs
        self.answer_turns = 0  # turns taken in the answer phase, over all attempts
        self.runaways = 0  # replies stopped for repeating themselves, over all attempts
        root = spec.root or runtime.project_root
        self.tool_ctx = ToolContext(root=root, policy=runtime.policy)
        self.system = prompts.system_prompt(root, [s.name for s in specs], spec.system, spec.schema)

    def emit(self, kind: str, **data: Any) -> None:
        self.emit_raw(AgentEvent(kind, self.session_id, data))

    async def run(self) -> AgentResult:
        self.session_id = await self.rt.store.create_session(
            project_id=self.rt.project_id,
            title=self.spec.prompt,
            provider=self.provider.name,
            model=self.model,
            agent_type=self.spec.agent_type,
            json_schema=self.spec.schema,
            parent_session_id=self.spec.parent_session_id,
        )
        self.emit("started", model=self.model, prompt=self.spec.prompt)
        if self.spec.effort and not self.provider.capabilities.reasoning_effort:
            self.emit(
                "warning",
                message=f"effort {self.spec.effort!r} ignored: {self.provider.name} has no "
                "reasoning setting for this model",
            )
        hook = self.rt.hook
        around = hook.agent(self.session_id, self.spec, self.tool_ctx.extras) if hook else None
        try:
            async with around or contextlib.nullcontext():
                output = await self._attempts()
        except asyncio.CancelledError:
            await asyncio.shield(self._finish("cancelled", error="cancelled"))
            raise
        except (AgentFailure, ProviderError) as exc:
            kind: FailureKind = exc.kind if isinstance(exc, AgentFailure) else "provider"
            await self._finish("failed", error=str(exc))
            self.emit("finished", status="failed", error=str(exc))
            return self._result("failed", None, str(exc), kind)
        await self._finish("completed", result=output)
        self.emit("finished", status="completed")
        return self._result("completed", output)

    def _result(
        self,
        status: Literal["completed", "failed"],
        output: Any,
        error: str | None = None,
        failure: FailureKind | None = None,
    ) -> AgentResult:
        return AgentResult(
            self.session_id,
            status,
            output,
            self.usage,
            self.turns,
            self.tool_calls,
            self.model,
            error,
            failure,
        )

    async def _finish(self, status: str, *, result: Any = None, error: str | None = None) -> None:
        await self.rt.store.finish_session(
            self.session_id,
            status=status,
            result=result,
            error=error,
            turns=self.turns,
            tool_calls=self.tool_calls,
        )
        if self.durable:  # the agent's rows were written behind: durable before it returns
            await self.rt.store.sync()

    async def _attempts(self) -> Any:
        attempts = self.settings.stall_attempts
        limit = self.settings.stall_seconds
        prompt = Message("user", [TextPart(self.spec.prompt), *self.spec.images])
        for attempt in range(1, attempts + 1):
            chat_id = await self.rt.store.create_chat(self.session_id, attempt, self.system, prompt)
            progress = Progress()
            async with StallWatch(progress, limit):
                return await self._conversation(chat_id, prompt, progress)
            if attempt < attempts:  # the attempt stalled
                self.emit("stall", message=prompts.stall_note(limit, attempt, attempts))
        raise AgentFailure(
            "stall", f"agent stalled on all {attempts} attempts (no progress for {limit:g}s each)"
        )

    async def _conversation(self, chat_id: str, prompt: Message, progress: Progress) -> Any:
        schema = self.spec.schema
        messages = [prompt]
        # The answer phase offers no tools (`answer_specs` only) and, for a schema on a provider with native
        # JSON schema, asks for it as the reply's format. An agent without tools starts in it; the others
        # enter it when their tool phase ends (a repeated read, the turn cap) or, with a schema,
        # after a reply that is not the JSON answer. It never goes back to tools. When a repeated read ends
        # the tools of a schema agent, the first answer turn is in plain words (`summary`, no JSON format):
        # held to the schema at once, small models answered `{"findings": []}` after reading the defect
        # (Qwen2.5-Coder-1.5B, bench/quality); asked to say it first, then to give the JSON, they transcribe.
        answer_phase = not self.tools
        summary = False
        failures = 0
        last_error = ""

        async def say(text: str) -> None:
            user = Message("user", [TextPart(text)])
            await self.rt.store.add_message(chat_id, len(messages), user)
            messages.append(user)

        def fail_structured(error: str) -> None:
            nonlocal failures, last_error
            failures, last_error = failures + 1, error
            cap = self.settings.structured_attempts
            if failures >= cap:
                raise AgentFailure(
                    "structured",
                    f"agent({{schema}}): structured output retry cap ({cap}) exceeded — {cap} failed "
                    f"attempts with no valid output; last validation failure: {last_error}",
                )

        while True:
            if self.turns >= self.settings.max_turns:
                if self.answer_turns:
                    raise AgentFailure(
                        "turns", f"agent reached the turn cap ({self.settings.max_turns}) without finishing"
                    )
                # One last turn, with no tools, to answer from what the agent has gathered.
                answer_phase = True
                if messages[-1].role == "tool":  # otherwise the last user turn already asks for the answer
                    await say(prompts.answer_now(prompts.TURN_CAP, schema, self.via_tool))
            notes = await self.rt.hook.notes(self.session_id) if self.rt.hook else []
            if notes:  # background tasks that ended: told once, in the next request, and kept in the chat
                note = Message("user", [TextPart("\n\n".join(notes))])
                await self.rt.store.add_message(chat_id, len(messages), note)
                messages.append(note)
            try:
                response = await self._turn(chat_id, len(messages), messages, progress, answer_phase, summary)
            except RunawayReply as exc:
                # Asked once more without the runaway text (which would prime the same loop); a second fails.
                if self.runaways >= RUNAWAY_RETRIES:
                    raise AgentFailure("runaway", str(exc)) from None
                self.runaways += 1
                self.emit("warning", message=f"{exc}; asking again")
                await say(prompts.after_runaway(exc.unit))
                continue
            self.answer_turns += answer_phase and not summary
            reply = response.message
            messages.append(reply)
            calls = reply.tool_calls
            if not calls and response.stop_reason == "max_tokens":
                raise AgentFailure(
                    "output_cap",
                    f"the reply was cut at the output-token cap ({self.output_cap} per agent)",
                )
            if calls:
                results = await self._run_tools(calls, progress, answer_phase)
                structured = [c for c in calls if c.name == prompts.STRUCTURED_TOOL]
                if structured:
                    error = validation_error(structured[-1].arguments, schema or {})
                    if error is None:
                        return structured[-1].arguments
                    fail_structured(error)
                    results = [_structured_error(r, error) for r in results]
                tool_message = Message("tool", list(results))
                await self.rt.store.add_message(chat_id, len(messages), tool_message)
                messages.append(tool_message)
                if not answer_phase and any(r.ends_tool_phase for r in results):
                    # A read repeated with the same arguments: the model is looping, so the tools are over.
                    # Its result (the first output again) stays in the chat, then the request to answer.
                    answer_phase = True
                    summary = schema is not None and not self.via_tool
                    await say(prompts.answer_now(prompts.REPEATED_CALL, schema, self.via_tool, summary))
                continue
            if schema is None:
                return reply.text
            if self.via_tool:
                fail_structured(f"no {prompts.STRUCTURED_TOOL} call")
                nudge = f"Call the {prompts.STRUCTURED_TOOL} tool now with your final result."
            else:
                error = _json_error(reply.text, schema)
                if error is None:
                    return parse_json_text(reply.text)
                if summary:  # the result in words: now as JSON
                    summary = False
                    nudge = prompts.final_answer_request(schema)
                elif answer_phase:
                    fail_structured(error)
                    nudge = prompts.retry_after_invalid(error)
                else:
                    answer_phase = True
                    nudge = prompts.final_answer_request(schema)
            await say(nudge)

    async def _turn(
        self,
        chat_id: str,
        seq: int,
        messages: list[Message],
        progress: Progress,
        answer_phase: bool,
        summary: bool = False,
    ) -> ModelResponse:
        remaining = self.output_cap - self.output_used
        if remaining <= 0:
            raise AgentFailure(
                "output_cap", f"agent used its output-token cap ({self.output_cap}) without finishing"
            )
        request = ModelRequest(
            model=self.model,
            messages=list(messages),
            system=self.system,
            tools=self.answer_specs if answer_phase else self.tool_specs,
            json_schema=self.spec.schema if answer_phase and not self.via_tool and not summary else None,
            max_output_tokens=remaining,
            temperature=self.rt.temperature,
            seed=self.rt.seed,
            effort=self.spec.effort if self.provider.capabilities.reasoning_effort else None,
        )
        self.turns += 1
        progress.tick()
        offered = [t.name for t in request.tools]
        ctx = TurnContext(
            store=self.rt.store,
            session_id=self.session_id,
            chat_id=chat_id,
            turn=self.turns,
            message_seq=seq,
            timeout=self.settings.request_timeout,
            retry=self.rt.retry or RetryPolicy(self.settings.max_retries),
            on_progress=progress.tick,
            finalize=partial(self._text_tool_call, offered) if offered else None,
            stagger=self.rt.stagger,
            runaway_chars=self.settings.runaway_chars,
        )
        async with progress.queue(self.rt.provider_slots, self.rt.provider_ready):
            response = await run_turn(self.provider, request, ctx)
        progress.tick()
        self.usage = self.usage.add(response.usage)
        self.output_used += response.usage.output or 0
        self.emit("turn", turn=self.turns, usage=response.usage)
        return response

    def _text_tool_call(self, offered: list[str], response: ModelResponse) -> ModelResponse:
        """Small local models write a tool call as JSON text: take it as one when it names an offered tool."""
        message = response.message
        if message.tool_calls:
            return response
        found = extract_text_tool_call(message.text, offered)
        if found is None:
            return response
        name, arguments = found
        call = ToolCallPart(new_id("call"), name, arguments)
        return replace(response, message=Message("assistant", [call]), stop_reason="tool_calls")

    def _visible(self, result: ToolResultPart) -> ToolResultPart:
        """A tool result the model can take: images are dropped, with a note, for a model without vision."""
        if result.images and not self.provider.capabilities.images:
            return _without_images(result, f"model {self.model} cannot take images")
        return result

    async def _run_tools(
        self, calls: list[ToolCallPart], progress: Progress, answer_phase: bool
    ) -> list[ToolResultPart]:
        # In the answer phase no tool is offered: a call to one gets an "unknown tool" error, nothing runs.
        tools: Mapping[str, Tool] = {} if answer_phase else self.tools

        async def one(call: ToolCallPart) -> ToolResultPart:
            self.emit("tool_call", name=call.name, arguments=call.arguments)
            if call.name == prompts.STRUCTURED_TOOL and self.via_tool:
                result = ToolResultPart(call.call_id, call.name, "received")
            else:
                result = self._visible(await execute_tool_call(call, tools, self.tool_ctx))
            progress.tick()
            self.emit("tool_result", name=call.name, is_error=result.is_error)
            return result

        self.tool_calls += len(calls)
        if all(tools[c.name].read_only for c in calls if c.name in tools):
            return list(await asyncio.gather(*(one(c) for c in calls)))
        return [await one(c) for c in calls]


def _without_images(result: ToolResultPart, why: str) -> ToolResultPart:
    note = f"\n({len(result.images)} image(s) not shown: {why})"
    return replace(result, images=(), content=result.content + note)


def _structured_error(result: ToolResultPart, error: str) -> ToolResultPart:
    if result.name != prompts.STRUCTURED_TOOL:
        return result
    return replace(result, content=prompts.retry_after_invalid(error), is_error=True)


def _json_error(text: str, schema: dict[str, Any]) -> str | None:
    try:
        value = parse_json_text(text)
    except ValueError:
        return "the reply is not JSON"
    return validation_error(value, schema)
