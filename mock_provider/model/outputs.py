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
- where the dialect allows more (``max_tool_calls`` > 1: Anthropic's parallel tool use, the
  Responses API unless ``parallel_tool_calls: false``), an answer that calls a tool under
  ``auto`` or ``required`` calls another, picked at random, with probability
  ``parallel_probability`` (the provider's ``parallel_tool_call_probability``), up to
  ``max_tool_calls``; a further call that would not fit under the cap is not begun. A
  named choice calls its tool once. Where the dialect allows text before the calls
  (``preamble``: Anthropic's ``auto``), a calling answer opens with a few words with
  probability :data:`PREAMBLE_PROBABILITY`; a forced choice never does;
- content meeting one of the ``stop`` sequences ends just before it (``stop_sequence``,
  with the sequence met; OpenAI words it ``stop``): the earliest occurrence in the drawn
  text wins, if it comes before the cap;
- a tool call's arguments are an instance of the tool's parameter schema
  (:mod:`.structured`); content is an instance of the request's schema when it gives one, a
  one-key JSON object when it asks for JSON without a schema, and words otherwise;
- an answer longer than the cap (``max_tokens``, or the model's own limit) is cut there and
  ends with ``max_tokens``: cut JSON is not valid JSON, as with the real service (an
  answer's text, then its calls, in order, count against the cap);
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
from .vocabulary import END, MAX_TOKENS, STOP_SEQUENCE, TOOL_USE, FinishReason

__all__ = [
    "MAX_PARALLEL_CALLS",
    "PREAMBLE_PROBABILITY",
    "Choice",
    "OutputSpec",
    "Shaped",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "shape",
]

ToolChoice = Literal["none", "auto", "required", "named"]
CALL_KEY_LENGTH = 24  # OpenAI's call_ ids: 24 characters from [A-Za-z0-9]
MAX_PARALLEL_CALLS = 4  # the most tool calls one OpenAI answer makes here
PREAMBLE_PROBABILITY = 0.5  # text before the calls, where allowed
PREAMBLE_TOKENS = 16  # the longest such text
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
    max_tool_calls: int = 1  # calls one answer may make (more: parallel tool use)
    preamble: bool = False  # an ``auto`` call may follow some text (Anthropic)
    stop: tuple[str, ...] = ()  # stop sequences: content ends before the first one met


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
    """One answer: content tokens, or tool calls (after some text, where the dialect allows
    it), and how it ended."""

    pieces: tuple[str, ...]  # the content, one string per token (empty for a tool call)
    finish_reason: FinishReason
    tool_call: ToolCall | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None  # one per content token, when asked
    more_calls: tuple[ToolCall, ...] = ()  # parallel calls after ``tool_call``
    stop_sequence: str | None = None  # the stop sequence met (``finish_reason`` says so)

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of the answer, in order (none for content)."""
        return () if self.tool_call is None else (self.tool_call, *self.more_calls)

    @property
    def tokens(self) -> int:
        """Billed tokens, and the number of stream steps the answer takes."""
        return len(self.pieces) + sum(len(c.arguments) for c in self.calls)

    @property
    def stream(self) -> tuple[str, ...]:
        """The answer's tokens in stream order: the text, then each call's arguments."""
        if self.tool_call is None:
            return self.pieces
        return self.pieces + tuple(t for c in self.calls for t in c.arguments)

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
            choices.append(_calling(spec, tool, natural, cap, rng, keys, parallel_probability))
            continue
        pieces = _content(spec, natural, rng, i)
        stop = None
        if spec.stop:
            pieces, stop = cut_at_stop(pieces, spec.stop)
        finish: FinishReason = END if len(pieces) <= cap else MAX_TOKENS
        if stop is not None and len(pieces) <= cap:
            finish = STOP_SEQUENCE
        else:
            stop = None
        pieces = pieces[:cap]
        logprobs = None if spec.logprobs is None else _logprobs(pieces, spec.logprobs, rng)
        choices.append(Choice(pieces, finish, None, logprobs, stop_sequence=stop))
    longest = max(choices, key=lambda c: c.tokens)
    return Shaped(tuple(choices), sum(c.tokens for c in choices), longest.tokens, longest.stream)


def _calling(
    spec: OutputSpec,
    tool: Tool,
    natural: int,
    cap: int,
    rng: random.Random,
    keys: random.Random,
    parallel_probability: float,
) -> Choice:
    """An answer that calls ``tool`` (and, where allowed, more tools after some text)."""
    preamble: tuple[str, ...] = ()
    if spec.preamble and spec.tool_choice == "auto" and rng.random() < PREAMBLE_PROBABILITY:
        preamble = token_pieces(min(natural, PREAMBLE_TOKENS), rng.randrange(64))
        if spec.stop:
            preamble, stop = cut_at_stop(preamble, spec.stop)
            if stop is not None and len(preamble) <= cap:  # it stopped before calling
                return Choice(preamble, STOP_SEQUENCE, stop_sequence=stop)
    tools = [tool]
    while (
        len(tools) < spec.max_tool_calls
        and spec.tool_choice != "named"
        and rng.random() < parallel_probability
    ):
        tools.append(rng.choice(spec.tools))
    room = cap - len(preamble)
    finish: FinishReason = TOOL_USE if room > 0 else MAX_TOKENS
    calls: list[ToolCall] = []
    for t in tools:
        call = _call(t, rng, keys)
        if room <= 0:  # the cap came first: this call never began
            break
        if calls and len(call.arguments) > room:  # a further call that would not fit
            break
        if len(call.arguments) > room:
            finish = MAX_TOKENS
        calls.append(ToolCall(call.key, call.name, call.arguments[:room]))
        room -= len(call.arguments)
    if not calls:
        return Choice(preamble[:cap], MAX_TOKENS)
    return Choice(preamble, finish, calls[0], more_calls=tuple(calls[1:]))


def _call(tool: Tool, rng: random.Random, keys: random.Random) -> ToolCall:
    """A call of ``tool``: arguments valid against its parameters, a fresh key."""
    arguments = instance(tool.parameters or _ANY_OBJECT, rng)
    if not isinstance(arguments, dict):  # a tool's arguments are always an object
        arguments = {}
    key = "".join(keys.choices(_ALNUM, k=CALL_KEY_LENGTH))
    return ToolCall(key, tool.name, token_strings(render(arguments)))


def cut_at_stop(
    pieces: tuple[str, ...], stops: tuple[str, ...]
) -> tuple[tuple[str, ...], str | None]:
    """``pieces`` up to the earliest stop sequence in their text (the piece it starts in
    kept up to it), and the sequence; ``pieces`` and None when none occurs."""
    text = "".join(pieces)
    at, met = len(text), None
    for stop in stops:
        found = text.find(stop) if stop else -1
        if 0 <= found < at:
            at, met = found, stop
    if met is None:
        return pieces, None
    kept: list[str] = []
    start = 0
    for piece in pieces:
        if start + len(piece) > at:
            if at > start:
                kept.append(piece[: at - start])
            break
        kept.append(piece)
        start += len(piece)
    return tuple(kept), met


def _tool_to_call(spec: OutputSpec, rng: random.Random, probability: float) -> Tool | None:
    if not spec.tools or spec.tool_choice == "none":
        return None
    if spec.tool_choice == "named":
        return next((t for t in spec.tools if t.name == spec.tool_name), None)
    if spec.tool_choice == "auto" and rng.random() >= probability:
        return None
    return rng.choice(spec.tools)


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
