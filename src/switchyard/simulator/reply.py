"""What a simulated model says. Provider modules parse their wire format into a :class:`Prompt`, ask
:func:`reply` for a :class:`Reply`, and render it back in their wire format.

Replies are deterministic functions of the prompt, so tests can assert on them:
- a prompt with tools (and tool choice not ``none``) whose last turn is the user's gets a call to the
  forced tool, or the first one, with arguments generated from its JSON schema;
- a prompt whose last turn is a tool result gets a text answer quoting the result;
- JSON mode gets a JSON object (an instance of the schema when one is given);
- with ``accuracy`` set (``Faults.accuracy``), a last user turn holding arithmetic gets just its value, right
  for that share of prompts (see ``answers``);
- otherwise the model echoes the last user turn: ``"<model> says: <text>"``.
``max_tokens`` truncates (finish ``length``) and stop sequences cut the text (finish ``stop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from .answers import answer

__all__ = ["Prompt", "Reply", "SimToolCall", "estimate_tokens", "reply", "split_text"]


@dataclass(slots=True)
class Prompt:
    model: str
    last_user_text: str = ""
    all_text: str = ""
    """Every text the prompt carries (system, turns, tool schemas): what input tokens are counted on."""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, JSON schema of parameters)."""
    forced_tool: str | None = None
    tool_choice_none: bool = False
    last_is_tool_result: bool = False
    tool_result_text: str = ""
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    images: int = 0
    n: int = 1
    include_usage: bool = False
    """OpenAI streams: send the closing usage chunk."""
    assistant_prefix: str = ""
    """The text of a trailing assistant message: the answer continues it instead of starting over."""


@dataclass(slots=True)
class SimToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Reply:
    text: str
    tool_calls: list[SimToolCall]
    finish: str
    """One of ``stop``, ``length``, ``tool_calls``."""
    input_tokens: int
    output_tokens: int


def estimate_tokens(text: str) -> int:
    """Roughly four characters a token, as the providers' own rules of thumb say."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def split_text(text: str, words_per_chunk: int = 3) -> list[str]:
    """Split text into stream deltas that concatenate back to exactly ``text``."""
    if not text:
        return []
    words = text.split(" ")
    pieces = []
    for i in range(0, len(words), words_per_chunk):
        piece = " ".join(words[i : i + words_per_chunk])
        pieces.append(piece if i + words_per_chunk >= len(words) else piece + " ")
    return pieces


def _instance(schema: dict[str, Any], name: str = "value", depth: int = 0) -> Any:
    if depth > 6:
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _instance(schema[key][0], name, depth + 1)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {k: _instance(v, k, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [_instance(schema.get("items", {"type": "string"}), name, depth + 1)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 3.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"sample {name}"


def _truncate(text: str, max_tokens: int | None) -> tuple[str, bool]:
    if max_tokens is None or estimate_tokens(text) <= max_tokens:
        return text, False
    return text[: max(0, max_tokens * 4)], True


def reply(prompt: Prompt, *, call_id: str = "call_sim", accuracy: float | None = None) -> Reply:
    input_tokens = estimate_tokens(prompt.all_text) + 85 * prompt.images
    if prompt.tools and not prompt.tool_choice_none and not prompt.last_is_tool_result:
        chosen = next((t for t in prompt.tools if t[0] == prompt.forced_tool), prompt.tools[0])
        arguments = orjson.dumps(_instance(chosen[1])).decode()
        call = SimToolCall(id=call_id, name=chosen[0], arguments=arguments)
        return Reply("", [call], "tool_calls", input_tokens, estimate_tokens(chosen[0] + arguments))
    if prompt.json_mode:
        payload = _instance(prompt.json_schema) if prompt.json_schema else {"answer": prompt.last_user_text[:80]}
        text = orjson.dumps(payload).decode()
    elif prompt.last_is_tool_result:
        text = f"The tool returned: {prompt.tool_result_text[:200]}"
    elif accuracy is not None and (solved := answer(prompt.model, prompt.last_user_text, accuracy)) is not None:
        text = solved
    else:
        seen = f" I see {prompt.images} image(s)." if prompt.images else ""
        text = f"{prompt.model} says: {prompt.last_user_text[:400]}{seen}"
        if prompt.assistant_prefix and text.startswith(prompt.assistant_prefix):
            # A prefilled answer: the model writes only what follows the prefix, as Claude does.
            text = text[len(prompt.assistant_prefix) :]
    finish = "stop"
    for stop in prompt.stop:
        cut = text.find(stop)
        if stop and cut >= 0:
            text = text[:cut]
    text, truncated = _truncate(text, prompt.max_tokens)
    if truncated:
        finish = "length"
    return Reply(text, [], finish, input_tokens, estimate_tokens(text))
