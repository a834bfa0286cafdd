"""What a request asks of its answer beyond one plain text, and the choices the brain makes.

Theory of operation
-------------------
A plain chat request (one answer, free text, no tools) never comes here: the brain's fast
path writes it. A request that asks for more carries an :class:`OutputSpec`, the dialect's
reading of its options in the brain's words, and :func:`shape` makes its answers:

- ``choices`` answers (OpenAI's ``n``), each drawn on its own: the first keeps the length the
  plain path drew, the others draw theirs from the same distribution;
- each answer is either content or one tool call. With tools offered, ``tool_choice``
  decides: ``none`` never calls one, ``required`` always calls one (picked at random), a
  named tool always calls that one, and ``auto`` calls one with probability
  ``tool_call_probability`` (a provider setting);
- a tool call's arguments are an instance of the tool's parameter schema
  (:mod:`.structured`). A spec that allows ``parallel`` calls (the Responses API unless
  ``parallel_tool_calls: false``) may add further calls to the same answer, each with
  probability ``parallel_probability`` (a provider setting), up to :data:`MAX_PARALLEL_CALLS`
  and within the cap; a named choice repeats its tool, the others pick again at random;
  content is an instance of the request's schema when it gives one, a
  one-key JSON object when it asks for JSON without a schema, and words otherwise;
- a content answer ends before the first of the request's stop sequences it contains
  (:func:`cut_at_stop`), as a finished answer;
- an answer longer than the cap (``max_tokens``, or the model's own limit) is cut there and
  ends with ``max_tokens``: cut JSON is not valid JSON, as with the real service;
- with ``logprobs`` each content token gets a log probability and ``logprobs`` alternatives.

Tokens are what the response bills: content and arguments are cut into their real tokens
(:func:`~.tokens.token_strings`), one stream step each. Answers are generated side by side,
so the timing plan has as many steps as the longest answer; usage sums every answer.

All draws come from the request's own generator (``random.Random``), so the same request
number under the same seed gets the same answers whatever else ran.
"""

from __future__ import annotations

import math
import random
import string
from typing import Any, Literal

import msgspec

from .structured import instance, render
from .tokens import WORDS, token_pieces, token_strings
from .vocabulary import END, MAX_TOKENS, TOOL_USE, FinishReason

__all__ = [
    "MAX_PARALLEL_CALLS",
    "Choice",
    "OutputSpec",
    "Shaped",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "shape",
]

MAX_PARALLEL_CALLS = 4  # the most tool calls one answer makes

ToolChoice = Literal["none", "auto", "required", "named"]
CALL_KEY_LENGTH = 24  # OpenAI's call_ ids: 24 characters from [A-Za-z0-9]
_ALNUM = string.ascii_letters + string.digits
_ANY_OBJECT = {"type": "object", "properties": {}, "additionalProperties": False}
_SPACED = tuple(" " + w for w in WORDS)  # alternatives to a token, as the vocabulary writes them


class Tool(msgspec.Struct, frozen=True, gc=False):
    """A tool the model may call: its name and its parameters' JSON schema (None: any object)."""

    name: str
    parameters: Any = None


class OutputSpec(msgspec.Struct, frozen=True):
    """A request's wishes for its answers (see the module docstring)."""

    choices: int = 1
    json: bool = False  # the content must be a JSON object
    schema: Any = None  # ... valid against this JSON schema
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = "auto"
    tool_name: str | None = None  # the tool a "named" choice names
    logprobs: int | None = None  # alternatives per content token; None: no log probabilities
    parallel: bool = False  # an answer may make more than one tool call
    stop: tuple[str, ...] = ()  # stop sequences: the content ends before the first one


class ToolCall(msgspec.Struct, frozen=True, gc=False):
    key: str  # CALL_KEY_LENGTH characters from [A-Za-z0-9]; the dialect prefixes it
    name: str
    arguments: tuple[str, ...]  # the arguments' JSON, one string per token

    @property
    def text(self) -> str:
        return "".join(self.arguments)


class TokenLogprob(msgspec.Struct, frozen=True, gc=False):
    """One content token's log probability, and the most likely tokens at that place."""

    logprob: float
    top: tuple[tuple[str, float], ...]  # (token, log probability), most likely first


class Choice(msgspec.Struct, frozen=True, gc=False):
    """One answer: content tokens or one tool call, and how it ended."""

    pieces: tuple[str, ...]  # the content, one string per token (empty for a tool call)
    finish_reason: FinishReason
    tool_call: ToolCall | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None  # one per content token, when asked
    more_calls: tuple[ToolCall, ...] = ()  # parallel calls after ``tool_call``

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of the answer, in order (none for content)."""
        return () if self.tool_call is None else (self.tool_call, *self.more_calls)

    @property
    def tokens(self) -> int:
        """Billed tokens, and the number of stream steps the answer takes."""
        if self.tool_call is None:
            return len(self.pieces)
        return sum(len(call.arguments) for call in self.calls)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class Shaped(msgspec.Struct, frozen=True, gc=False):
    choices: tuple[Choice, ...]
    tokens: int  # all answers' tokens: what usage bills
    steps: int  # the longest answer's tokens: what the timing plan covers
    pieces: tuple[str, ...]  # the longest answer's stream, one string per step


def shape(
    spec: OutputSpec,
    natural: int,
    cap: int,
    rng: random.Random,
    response_key: str,
    tool_call_probability: float,
    output_median: float,
    output_spread: float,
    parallel_probability: float = 0.0,
) -> Shaped:
    """The answers for ``spec`` (see the module docstring).

    ``natural`` is the first answer's drawn length, ``cap`` the most tokens an answer may
    have; later answers draw their length from (``output_median``, ``output_spread``), the
    provider's output distribution. Tool call keys derive from ``response_key``, so they are
    as unique as the response's own id.
    """
    keys = random.Random(response_key)
    choices = []
    for i in range(max(1, spec.choices)):
        if i > 0:
            natural = max(1, round(output_median * math.exp(output_spread * rng.gauss(0.0, 1.0))))
        tool = _tool_to_call(spec, rng, tool_call_probability)
        if tool is not None:
            call = _call(tool, rng, keys)
            finish: FinishReason = TOOL_USE if len(call.arguments) <= cap else MAX_TOKENS
            call = ToolCall(call.key, call.name, call.arguments[:cap])
            more: list[ToolCall] = []
            room = cap - len(call.arguments)
            while (
                spec.parallel
                and len(more) + 1 < MAX_PARALLEL_CALLS
                and rng.random() < parallel_probability
            ):
                extra = _call(tool if spec.tool_choice == "named" else rng.choice(spec.tools),
                              rng, keys)  # fmt: skip
                if len(extra.arguments) > room:  # no room left under the cap: stop here
                    break
                room -= len(extra.arguments)
                more.append(extra)
            choices.append(Choice((), finish, call, None, tuple(more)))
            continue
        pieces = _content(spec, natural, rng, i)
        if spec.stop:
            pieces = cut_at_stop(pieces, spec.stop)
        finish = END if len(pieces) <= cap else MAX_TOKENS
        pieces = pieces[:cap]
        logprobs = None if spec.logprobs is None else _logprobs(pieces, spec.logprobs, rng)
        choices.append(Choice(pieces, finish, None, logprobs))
    longest = max(choices, key=lambda c: c.tokens)
    stream = (
        tuple(piece for call in longest.calls for piece in call.arguments)
        if longest.tool_call
        else longest.pieces
    )
    return Shaped(tuple(choices), sum(c.tokens for c in choices), longest.tokens, stream)


def cut_at_stop(pieces: tuple[str, ...], stops: tuple[str, ...]) -> tuple[str, ...]:
    """The content up to the first stop sequence, which is not part of it (as the API returns
    it): the tokens before it, and the part of the token it begins in that comes before it.
    An answer cut here ends as a finished one (``stop``), unless the cap comes first."""
    text = "".join(pieces)
    at = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if at < 0:
        return pieces
    out: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > at:
            if at > used:
                out.append(piece[: at - used])
            break
        out.append(piece)
        used += len(piece)
    return tuple(out)


def _tool_to_call(spec: OutputSpec, rng: random.Random, probability: float) -> Tool | None:
    if not spec.tools or spec.tool_choice == "none":
        return None
    if spec.tool_choice == "named":
        return next((t for t in spec.tools if t.name == spec.tool_name), None)
    if spec.tool_choice == "auto" and rng.random() >= probability:
        return None
    return rng.choice(spec.tools)


def _call(tool: Tool, rng: random.Random, keys: random.Random) -> ToolCall:
    """A call of ``tool``: arguments valid against its parameters, a fresh key."""
    arguments = instance(tool.parameters or _ANY_OBJECT, rng)
    if not isinstance(arguments, dict):  # a tool's arguments are always an object
        arguments = {}
    key = "".join(keys.choices(_ALNUM, k=CALL_KEY_LENGTH))
    return ToolCall(key, tool.name, token_strings(render(arguments)))


def _content(spec: OutputSpec, natural: int, rng: random.Random, index: int) -> tuple[str, ...]:
    if spec.schema is not None:
        return token_strings(render(instance(spec.schema, rng)))
    if spec.json:
        words = "".join(token_pieces(max(1, natural - 6), rng.randrange(64))).lstrip()
        return token_strings(render({"answer": words}))
    return token_pieces(natural, rng.randrange(64) if index else 0)


def _logprobs(
    pieces: tuple[str, ...], alternatives: int, rng: random.Random
) -> tuple[TokenLogprob, ...]:
    """Each token most likely (p in [0.5, 1)), the rest of the mass halving down the list."""
    out = []
    for piece in pieces:
        p = rng.uniform(0.5, 1.0 - 1e-6)
        top: list[tuple[str, float]] = []
        if alternatives:
            top.append((piece, math.log(p)))
            others = [w for w in rng.sample(_SPACED, alternatives) if w != piece]
            rest = 1.0 - p
            top += [(w, math.log(rest * 0.5**j)) for j, w in enumerate(others, 1)]
            del top[alternatives:]
        out.append(TokenLogprob(math.log(p), tuple(top)))
    return tuple(out)
