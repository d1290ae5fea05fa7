"""R_format: each rule broken one at a time, plus the accepted variants."""

from __future__ import annotations

import pytest

from reward_service.scoring._format import FORMAT_RULES, _strip_end_of_sequence, format_failures

GOOD = (
    "<think>Work it out.</think>\nThe answer is \\boxed{12.8}.\n"
    "<reflection>Checked. The answer is correct.</reflection>"
)


@pytest.mark.parametrize(
    "response",
    [
        GOOD,
        "  \n" + GOOD,
        GOOD + "<|im_end|>",
        GOOD + "\n<|endoftext|>\n",
        GOOD + "<|im_end|><|endoftext|>",
        GOOD.replace("\\boxed{12.8}", "\\boxed{\\frac{64}{5}}"),
        GOOD.replace("\\boxed{12.8}", "\\fbox{12.8}"),
        GOOD.replace("\\boxed{12.8}", "\\boxed 5"),
        "<think>We box \\boxed{3} in thought.</think> \\boxed{12.8} <reflection>ok</reflection>",
    ],
)
def test_well_formed(response: str) -> None:
    assert format_failures(response) == ()


@pytest.mark.parametrize(
    ("response", "broken_rule"),
    [
        ("Preamble. " + GOOD, "think_first"),
        (GOOD.replace("<think>", "<thinking>"), "think_first"),
        (GOOD.replace("Work it out.", "   "), "think_block"),
        (GOOD.replace("</think>", ""), "think_block"),
        (GOOD.replace("</think>", "</think></think>"), "think_block"),
        (GOOD.replace("Work it out.", "<think>nested</think>"), "think_block"),
        (GOOD.replace("\\boxed{12.8}", "12.8"), "boxed_answer"),
        (GOOD.replace("\\boxed{12.8}", "\\boxed{12.8} or \\boxed{13}"), "boxed_answer"),
        (GOOD.replace("\\boxed{12.8}", "\\boxed{}"), "boxed_answer"),
        (GOOD.replace("\\boxed{12.8}", "\\boxed{ }"), "boxed_answer"),
        (GOOD.replace("\\boxed{12.8}", "\\boxed{12.8"), "boxed_answer"),
        (GOOD.replace("Checked. The answer is correct.", ""), "reflection_block"),
        (GOOD.replace("</reflection>", ""), "reflection_block"),
        (GOOD + "<reflection>again</reflection>", "reflection_block"),
        (
            "<reflection>early</reflection><think>t</think> \\boxed{1}",
            "reflection_block",
        ),
        (GOOD + " And one more thing.", "clean_ending"),
        (GOOD + "<|im_end|> trailing", "clean_ending"),
    ],
)
def test_each_rule_broken_alone(response: str, broken_rule: str) -> None:
    assert broken_rule in format_failures(response)


def test_failures_are_reported_in_rule_order() -> None:
    assert format_failures("") == FORMAT_RULES


@pytest.mark.parametrize(
    "junk", ["}" * 10_000, "{" * 100_000, "\\boxed{" * 20_000, "\x00\x01\x7f" * 1000]
)
def test_junk_never_raises(junk: str) -> None:
    assert "think_first" in format_failures(junk)


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("answer<|im_end|>", "answer"),
        ("answer <|im_end|>\n<|endoftext|>  ", "answer"),
        ("answer<|im_end|>x", "answer<|im_end|>x"),
        ("<|im_end|>" * 3, ""),
        ("x" + "<|im_end|> \n" * 100_000, "x"),
    ],
    ids=["one token", "mixed", "text after", "only tokens", "a megabyte of tokens"],
)
def test_end_of_sequence_tail_is_stripped_in_one_pass(text: str, stripped: str) -> None:
    """Linear in the tail (it was 2.3 s per MiB of repeated <|im_end|>): the pytest
    timeout is the backstop; benchmarks/RESULTS.md has the times."""
    assert _strip_end_of_sequence(text) == stripped
    assert format_failures(GOOD + text[len(stripped) :]) == ()


@pytest.mark.parametrize(
    ("response", "failures"),
    [
        (
            "<think>t</think> \\boxed{3} <reflection>Hmm </think> so \\boxed{5}.</reflection>",
            ("think_block", "reflection_block"),
        ),
        (
            "<think>t</think> \\boxed{3} <reflection>ok</reflection></think> \\boxed{5}",
            ("think_block", "clean_ending"),
        ),
        (
            "<think>a</think> \\boxed{1} </think> \\boxed{4} <reflection>r</reflection>",
            ("think_block",),  # one box where the answer is read (4); the think block is not one
        ),
    ],
)
def test_the_answer_rule_reads_where_the_answer_is_read(
    response: str, failures: tuple[str, ...]
) -> None:
    """The boxed-answer rule looks where extraction takes the answer from: after the last
    ``</think>`` before the first ``<reflection>`` outside ``<think>...</think>``; a stray tag
    elsewhere breaks its own rule."""
    assert format_failures(response) == failures
