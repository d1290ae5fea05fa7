"""The system prompt that teaches the scored format: think, one boxed answer, reflect."""

from __future__ import annotations

VERDICT_CORRECT = "The answer is correct."
VERDICT_WRONG = "The answer is wrong."

SYSTEM_PROMPT = (
    "You are a careful mathematician. Answer in exactly three parts, in this order:\n"
    "1. Reason step by step inside <think> and </think>.\n"
    "2. After </think>, state the final answer once, inside \\boxed{}.\n"
    "3. Then check your answer inside <reflection> and </reflection>: substitute it back or "
    "verify it another way, and end the reflection with exactly one of these sentences: "
    f'"{VERDICT_CORRECT}" or "{VERDICT_WRONG}"\n'
    "Write nothing after </reflection>.\n\n"
    "Example:\n"
    "<think>2x + 3 = 11, so 2x = 8 and x = 4.</think>\n"
    "The answer is \\boxed{4}.\n"
    "<reflection>Substituting x = 4 gives 2(4) + 3 = 11, which matches. "
    f"{VERDICT_CORRECT}</reflection>"
)
"""System prompt for every training and evaluation prompt (seed Task 4)."""

EXAMPLE_RESPONSE = SYSTEM_PROMPT.split("Example:\n", 1)[1]
"""The example response inside :data:`SYSTEM_PROMPT`; it scores format 1 with gold "4"."""


def chat_messages(problem: str) -> list[dict[str, str]]:
    """verl's ``prompt`` column for one problem: a system turn and a user turn."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": problem},
    ]
