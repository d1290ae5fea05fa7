"""A simulated GRPO run for the dashboard: what a researcher should see, step by step.

Over the run the format is learned, the answers collapse onto the label (written in several
equivalent forms), the reflections drift towards always saying "wrong", responses get longer
and more of them are cut off; a few verifications time out. Every item carries its group
(prompt), its token count, whether it was truncated and its data source, as verl sends them.
"""

from __future__ import annotations

import random
from typing import Any

LABEL = "12.8"
RIGHT_FORMS = ("12.80", "\\dfrac{64}{5}", "12.8", "v=12.8", "12.8\\text{ mph}", "\\frac{64}{5}")
WRONG_ANSWERS = ("12", "13", "12.7", "\\frac{63}{5}", "16", "8\\sqrt[3]{4}", "25.6", "6.4", "11.9")
HANGING_ANSWER = "9^{9^{9^{9^{9}}}}"
"""An answer whose verification never finishes: it times out."""
DATA_SOURCES = ("pi1", "math500")
MAX_TOKENS = 1024


def _think(rng: random.Random, tokens: int) -> str:
    words = ("V^3", "=", "2048", "so", "k", "=", "1/256", "check", "the", "cube", "root")
    return " ".join(rng.choice(words) for _ in range(tokens))


def simulated_item(
    rng: random.Random, progress: float, group: str, hanging: bool = False
) -> dict[str, Any]:
    """One ``/score`` item at ``progress`` (0 at the start of the run, 1 at its end)."""
    right = rng.random() < 0.2 + 0.6 * progress
    if hanging:
        answer = HANGING_ANSWER
    elif right:
        answer = rng.choice(RIGHT_FORMS)
    else:
        answer = rng.choice(WRONG_ANSWERS[: max(2, round(len(WRONG_ANSWERS) * (1 - progress)))])
    says_wrong = rng.random() < 0.1 + 0.6 * progress
    verdict = "The answer is wrong." if says_wrong else "The answer is correct."
    tokens = min(MAX_TOKENS, max(20, int(rng.gauss(300 + 600 * progress, 120))))
    truncated = tokens >= MAX_TOKENS
    body = f"\\boxed{{{answer}}}\n<reflection>I checked it again. {verdict}</reflection>"
    if rng.random() < 0.6 * (1 - progress):  # the format is being learned
        response = f"{_think(rng, tokens // 8)}\nSo V = {body}"
    else:
        response = f"<think>{_think(rng, tokens // 8)}</think>\n{body}"
    if truncated:
        response = response[: len(response) * 2 // 3]
    return {
        "response": response,
        "ground_truth": LABEL,
        "group": group,
        "response_tokens": tokens,
        "truncated": truncated,
        "data_source": DATA_SOURCES[int(group.rsplit("-", 1)[-1]) % len(DATA_SOURCES)],
    }


def simulated_step(
    step: int, steps: int, prompts: int, samples: int, seed: int = 0, hanging: int = 0
) -> list[dict[str, Any]]:
    """The ``prompts x samples`` items of one step, ``hanging`` of them timing out."""
    rng = random.Random(seed * 1_000_003 + step)
    progress = step / max(1, steps - 1)
    items = []
    for prompt in range(prompts):
        for _ in range(samples):
            items.append(simulated_item(rng, progress, f"{step}-{prompt}"))
    for index in rng.sample(range(len(items)), hanging):
        items[index] = simulated_item(rng, progress, items[index]["group"], hanging=True)
    return items
