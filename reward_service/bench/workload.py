"""Synthetic GRPO steps on the pi1 problem, for benchmarks and load tests.

A step is ``prompts x samples`` responses of 2-12 KB: mostly well-formed, with right
answers in several equivalent forms, a long tail of wrong answers, some malformed
responses and a small share of pathological math that hangs a naive scorer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PI1_GROUND_TRUTH = "12.8"

RIGHT_FORMS = ("12.8", "\\frac{64}{5}", "12.80", "12.8 \\text{ mph}", "v = 12.8", "\\dfrac{64}{5}")
PATHOLOGICAL_ANSWERS = (
    "9^{9^{9^{9^{9}}}}",
    "10^{10^{10}}!",
    "{" * 400 + "1" + "}" * 400,
)
_FILLER = (
    "Since P varies jointly as A and V^3, we write P = kAV^3. ",
    "Substituting P = 4, A = 2 and V = 8 gives 4 = k * 2 * 512, so k = 1/256. ",
    "Then 32 = (1/256) * 4 * V^3, hence V^3 = 2048. ",
    "Let me double-check the arithmetic before going on. ",
    "The cube root of 2048 is between 12 and 13. ",
)


@dataclass(frozen=True)
class WorkloadItem:
    """One synthetic response with its label."""

    response: str
    ground_truth: str


def _wrong_answer(rng: random.Random, vocabulary: int, offset: int) -> str:
    """One of ``vocabulary`` distinct wrong answers, shifted by ``offset`` between steps."""
    index = rng.randrange(vocabulary) + offset
    return f"{12 + index // 10}.{index % 10}1" if index % 3 else f"\\frac{{{index + 7}}}{{5}}"


def _response(rng: random.Random, answer: str, verdict: str) -> str:
    think = "".join(rng.choice(_FILLER) for _ in range(rng.randint(25, 160)))
    return (
        f"<think>{think}</think>\nSo the wind velocity is \\boxed{{{answer}}}.\n"
        f"<reflection>I substituted the value back into P = kAV^3. {verdict}</reflection>"
    )


def grpo_step(
    items: int = 4096,
    distinct_answers: int = 200,
    pathological_share: float = 0.01,
    seed: int = 0,
) -> list[WorkloadItem]:
    """A reproducible synthetic step; a different ``seed`` gives different wrong answers."""
    rng = random.Random(seed)
    step = []
    for _ in range(items):
        roll = rng.random()
        if roll < pathological_share:
            answer = rng.choice(PATHOLOGICAL_ANSWERS)
        elif roll < 0.45:
            answer = rng.choice(RIGHT_FORMS)
        else:
            answer = _wrong_answer(rng, distinct_answers, offset=seed * distinct_answers)
        verdict = rng.choice(("The answer is correct.", "The answer is wrong.", "Looks fine."))
        response = _response(rng, answer, verdict)
        if rng.random() < 0.05:  # malformed: cut off mid-way, or the reflection missing
            response = response[: rng.randrange(len(response))]
        step.append(WorkloadItem(response, PI1_GROUND_TRUTH))
    return step
