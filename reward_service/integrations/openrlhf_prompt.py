"""Where the response starts in an OpenRLHF query (the prompt and the response decoded together).

OpenRLHF 0.9's single-turn executor tokenizes the prompt, keeps its last tokens when it is
too long for the context (``prompt_token_ids[-max_prompt_length:]``), generates, and posts
``tokenizer.decode(prompt_ids + response_ids)`` as the query beside the prompt as written. So
the query starts with the prompt, or with its tail, in the text a decode round trip gives:
whitespace may differ (tokenizers clean up spaces), and a special token the prompt did not
spell out (a BOS) may come first. The prompt is looked for in that order:

1. the query starts with the prompt exactly;
2. the prompt, whitespace ignored, within :data:`MAX_LEADING_CHARS` of the query's start;
3. the query starts with the prompt's last :data:`MIN_TAIL_CHARS` or more characters
   (whitespace ignored; a truncated prompt), after any ``U+FFFD`` a cut through a character
   left.

Anything else is not found (``None``): the response cannot be told from the prompt, and
scoring the whole query would grade the prompt's own worked examples and instructions.
"""

from __future__ import annotations

import re

MAX_LEADING_CHARS = 64
"""Most non-space characters (special tokens) the query may hold before the prompt."""
MIN_TAIL_CHARS = 32
"""Fewest non-space characters of a truncated prompt's tail that identify it."""
_NOT_SPACE = re.compile(r"\S")


def response_start(query: str, prompt: str) -> int | None:
    """The index in ``query`` where the response starts, or None when the prompt is not
    found at the start of the query (see the module docstring)."""
    if query.startswith(prompt):
        return len(prompt)
    compact_prompt = "".join(prompt.split())
    compact_query = "".join(query.split())
    if not compact_prompt:  # a blank prompt: whitespace apart, the query is the response
        return _after_non_space(query, 0)
    found = compact_query.find(compact_prompt, 0, MAX_LEADING_CHARS + len(compact_prompt))
    if found >= 0:
        return _after_non_space(query, found + len(compact_prompt))
    lead = len(compact_query) - len(compact_query.lstrip("\ufffd"))
    tail = _truncated_tail(compact_query[lead:], compact_prompt)
    return None if tail is None else _after_non_space(query, lead + tail)


def _truncated_tail(compact_query: str, compact_prompt: str) -> int | None:
    """The length of the longest tail of the prompt (at least MIN_TAIL_CHARS) that the
    query starts with, else None."""
    anchor = compact_query[:MIN_TAIL_CHARS]
    if len(anchor) < MIN_TAIL_CHARS:
        return None
    position = compact_prompt.find(anchor)
    while position >= 0:
        tail = compact_prompt[position:]
        if compact_query.startswith(tail):
            return len(tail)
        position = compact_prompt.find(anchor, position + 1)
    return None


def _after_non_space(text: str, count: int) -> int:
    """The index in ``text`` just after its ``count``-th non-space character."""
    if count == 0:
        return 0
    for seen, match in enumerate(_NOT_SPACE.finditer(text), start=1):
        if seen == count:
            return match.end()
    return len(text)
