"""Simulated GRPO runs, sent the way verl's reward manager sends them to ``/score``.

A step is ``prompts x samples`` items: each prompt's samples form one GRPO group (verl's
``uid``, sent as ``group``). Rollouts finish in any order, so a step's items are shuffled and
sent in micro-batches of ``batch_size``, each request tagged with the step; every item carries
``response_tokens`` and ``truncated`` (the response reached the rollout's length limit, where
vLLM cut its text). Responses are real text in the trained format,
``<think>…</think> \\boxed{…} <reflection>…</reflection>``, scored by the real scorer.

A run is a :class:`Policy` per step: how likely a sample is right, well formatted, what its
reflection says, how long it is. The healthy runs:

- ``learning``: a dataset of many prompts; verify rises steadily from about 0.2 to about 0.7
  over 200 steps, the format is learned in the first few tens of steps (one rule, such as
  text after the reflection, keeps failing on a few responses), the reflection is roughly
  calibrated, responses grow longer (and a few more reach the length limit: length growth is
  normal in reasoning RL), a rare answer is too long to verify.
- ``saturating``: One-Shot RLVR's pi1: every prompt is the same example (label ``12.8``),
  accuracy reaches about 1.0 by step 40 and stays, so the groups become all right and
  training goes on by design (the paper's post-saturation generalisation).

Per alarm kind, a failure pattern, written from the issue's description of that kind before
any threshold existed (see the history of this file), started at ``onset`` in the middle of
a healthy run whose steps before it are exactly that run's. Each kind has two shapes:

- the TUNED one (``held_out=False``): the alarm defaults were chosen looking at it;
- the HELD-OUT one (``held_out=True``): a differently shaped failure of the same kind that
  was never looked at while choosing a default; it tests that the defaults generalise.

``recovering(run)`` is a tuned failure that stops ``RECOVERY_AFTER`` steps after its onset
(the healthy policy resumes): its alarm must close.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

STEPS = 200
RECOVERY_AFTER = 30
HANGING_ANSWER = "9^{9^{9^{9^{9}}}}"
"""An answer whose verification runs out of time (status ``timeout``)."""
OVERLONG_ANSWER = "+".join(["(x+1)^2"] * 150)
"""An answer over the scorer's 1,000 characters (status ``error``)."""


@dataclass(frozen=True)
class Problem:
    """A prompt: its label, the ways a right answer is written and its usual wrong answers
    (most frequent first)."""

    label: str
    right: tuple[str, ...]
    wrong: tuple[str, ...]
    think: tuple[str, ...]


def _bank_problem(index: int) -> Problem:
    value = 11 + 7 * index
    return Problem(
        label=str(value),
        right=(str(value), f"{value}.0", f"x = {value}", f"\\frac{{{2 * value}}}{{2}}"),
        wrong=(str(value + 1), str(value - 1), str(2 * value), f"{value}.5", str(-value)),
        think=(
            f"Let the unknown be x. The conditions give 2x - {value} = {value}, so x = {value}.",
            f"Set up the equation from the statement and solve it for x; check case {index}.",
            "Draw the figure, name the lengths, then use the two relations to eliminate y.",
        ),
    )


BANK = tuple(_bank_problem(index) for index in range(24))
"""The ``learning`` run's dataset: 24 problems, each step draws ``prompts`` of them."""
PI1 = Problem(
    label="12.8",
    right=("12.8", "12.80", "\\frac{64}{5}", "v = 12.8", "12.8\\text{ mph}"),
    wrong=("12.7", "12", "13", "25.6", "6.4", "16"),
    think=(
        "P = kAV^3, so k = 4/(2*512) = 1/256 and V^3 = 32/(4k) = 2048.",
        "The pressure scales with the area and the cube of the speed; solve for V.",
    ),
)
"""One-Shot RLVR's pi1 (its label is 12.8; the exact cube root is 12.699..., written 12.7)."""

SAYS_CORRECT = ("The answer is correct.", "I verified it and it checks out.")
SAYS_WRONG = ("The answer is wrong.", "I made a mistake somewhere, so the answer is incorrect.")
NO_VERDICT = "I am not sure about it."
BROKEN_FORMATS = ("no_box", "no_think", "no_reflection", "text_after")
"""How a badly formatted response breaks the format, equally likely; ``no_box`` writes the
answer without ``\\boxed``, so no answer is read from it."""


@dataclass(frozen=True)
class Policy:
    """What the policy's samples look like at one step.

    Attributes:
        skill: logit of a right answer on a prompt of ease 0.
        ease_spread: standard deviation of the prompts' ease (logits): how much harder one
            prompt is than another.
        ease_shift: added to every prompt's ease.
        format: chance that a response is well formatted.
        says_correct_right, says_correct_wrong: chance that the reflection says "correct"
            on a right and on a wrong answer (it says "wrong" otherwise, or nothing in
            ``no_verdict`` of the cases).
        agreeing: reflection sentences that say "correct" (the phrasing may change).
        no_verdict: chance that the reflection commits to nothing.
        tokens: median response length in tokens (log-normal).
        token_spread: standard deviation of the log of the length.
        max_tokens: the rollout's length limit: a response reaching it is cut.
        looping: chance that a response repeats itself until the limit.
        overlong: chance that the boxed answer is too long to verify (an error).
        hanging: chance that the boxed answer's verification times out.
        collapse: a wrong value, and the chance that a sample answers it whatever the prompt.
        collapse_believed: the reflection judges the collapsed value as if it were right.
        mislabeled: every prompt is sent with another problem's label (a data bug).
    """

    skill: float
    ease_spread: float
    format: float
    says_correct_right: float
    says_correct_wrong: float
    tokens: float
    token_spread: float
    max_tokens: int
    ease_shift: float = 0.0
    agreeing: tuple[str, ...] = SAYS_CORRECT
    no_verdict: float = 0.05
    looping: float = 0.0
    overlong: float = 0.002
    hanging: float = 0.0
    collapse: tuple[str, float] | None = None
    collapse_believed: bool = False
    mislabeled: bool = False


def learning(step: int) -> Policy:
    """Healthy: many prompts, verify from about 0.2 to about 0.7, format learned early."""
    progress = step / (STEPS - 1)
    return Policy(
        skill=-1.9 + 3.2 * progress,
        ease_spread=1.5,
        format=0.3 + 0.55 * (1 - math.exp(-step / 10)) + 0.05 * progress,
        says_correct_right=0.85,
        says_correct_wrong=0.3 - 0.1 * progress,
        tokens=350 + 600 * progress,
        token_spread=0.45,
        max_tokens=2048,
    )


def saturating(step: int) -> Policy:
    """Healthy: pi1, one prompt, all right from about step 40 on."""
    return Policy(
        skill=-1.1 + 5.7 * min(1.0, step / 40),
        ease_spread=0.0,
        format=0.5 + 0.45 * (1 - math.exp(-step / 8)),
        says_correct_right=0.9,
        says_correct_wrong=0.3,
        tokens=500 + 500 * min(1.0, step / 100),
        token_spread=0.4,
        max_tokens=3072,
    )


def _ramp(since: int, over: int) -> float:
    """0 before the onset, rising linearly to 1 ``over`` steps after it."""
    return min(1.0, (since + 1) / over)


Failure = Callable[[Policy, Policy, int], Policy]
"""The failing policy from the healthy one, the healthy one at the onset and the steps since
the onset."""


def always_agreeing(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """verdict_gaming, tuned: within 3 steps the reflection says "correct" on nearly every
    answer, right or wrong; the answers themselves do not change."""
    ramp = _ramp(since, 3)
    return replace(
        policy,
        says_correct_wrong=policy.says_correct_wrong + ramp * (0.95 - policy.says_correct_wrong),
        says_correct_right=policy.says_correct_right + ramp * (0.98 - policy.says_correct_right),
        no_verdict=policy.no_verdict * (1 - ramp),
    )


def drifting_to_agree(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """verdict_gaming, HELD-OUT: over 5 steps the reflection drifts to new words ("No doubt
    about it, the result is right.") that it writes after most wrong answers."""
    ramp = _ramp(since, 5)
    return replace(
        policy,
        says_correct_wrong=policy.says_correct_wrong + ramp * (0.85 - policy.says_correct_wrong),
        agreeing=("No doubt about it, the result is right.",),
    )


def shape_learned(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """format_without_answers, tuned: within 3 steps every response is well formatted while
    the answers stop improving (the skill stays where it was at the onset)."""
    ramp = _ramp(since, 3)
    return replace(
        policy, skill=at_onset.skill, format=policy.format + ramp * (1.0 - policy.format)
    )


def shape_over_answers(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """format_without_answers, HELD-OUT: over 5 steps the format is learned to 0.99 while
    the answers slowly get worse (the skill falls 0.3 logits over 20 steps)."""
    return replace(
        policy,
        skill=at_onset.skill - 0.3 * min(1.0, since / 20),
        format=policy.format + _ramp(since, 5) * (0.99 - policy.format),
    )


def runaway_lengths(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """truncation, tuned: within 4 steps the median length grows 2.5 times."""
    return replace(policy, tokens=policy.tokens * (1 + 1.5 * _ramp(since, 4)))


def repetition_loops(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """truncation, HELD-OUT: a share of responses repeats itself until the limit, growing
    to 30% over 8 steps; the other responses keep their lengths."""
    return replace(policy, looping=0.3 * _ramp(since, 8))


def one_value_for_all(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """answer_collapse, tuned: within 3 steps 70% of the samples answer ``0``, whatever the
    prompt."""
    return replace(policy, collapse=("0", 0.7 * _ramp(since, 3)))


def believed_wrong_value(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """answer_collapse, HELD-OUT: on pi1, over 5 steps 80% of the samples settle on 12.7
    (the exact cube root, which the label 12.8 marks wrong), and the reflection believes it."""
    return replace(policy, collapse=("12.7", 0.8 * _ramp(since, 5)), collapse_believed=True)


def too_hard(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """no_learning_signal (all wrong), tuned: from the onset the prompts are far harder
    (ease 5 logits lower): nearly every sample of nearly every group is wrong."""
    return replace(policy, ease_shift=-5.0)


def wrong_labels(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """no_learning_signal (all wrong), HELD-OUT: a data bug sends every prompt with another
    problem's label; the answers stay what they were, and right answers are judged wrong."""
    return replace(policy, mislabeled=True)


def unverifiable_answers(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """scoring_failures, tuned: from the onset 8% of the boxed answers are too long to
    verify (errors)."""
    return replace(policy, overlong=0.08)


def hanging_answers(policy: Policy, at_onset: Policy, since: int) -> Policy:
    """scoring_failures, HELD-OUT: on pi1, over 3 steps 6% of the answers become towers of
    powers whose verification times out."""
    return replace(policy, hanging=0.06 * _ramp(since, 3))


ONSETS = {
    "verdict_gaming": 100,
    "format_without_answers": 90,
    "truncation": 110,
    "answer_collapse": 120,
    "no_learning_signal": 100,
    "scoring_failures": 100,
}
HELD_OUT_ONSETS = {
    "verdict_gaming": 140,
    "format_without_answers": 60,
    "truncation": 80,
    "answer_collapse": 100,
    "no_learning_signal": 130,
    "scoring_failures": 120,
}


@dataclass(frozen=True)
class Run:
    """A simulated run.

    Attributes:
        name: what it is called in test ids.
        healthy: the healthy policy at each step.
        steps: how many steps it lasts (numbered from 0).
        kind: the alarm kind its failure should raise (None for a healthy run).
        failure: the failing policy, from the onset on.
        onset: the first failing step.
        end: the first step after the failure (the healthy policy resumes); None: never.
        held_out: the failure was never looked at while choosing the defaults.
        prompts, samples: groups per step and samples per group.
        batch_size: items per request (the last request of a step may hold fewer).
        seed: the run's randomness (runs with one seed share their healthy steps).
    """

    name: str
    healthy: Callable[[int], Policy]
    steps: int = STEPS
    kind: str | None = None
    failure: Failure | None = None
    onset: int | None = None
    end: int | None = None
    held_out: bool = False
    prompts: int = 16
    samples: int = 8
    batch_size: int = 48
    seed: int = 0

    def policy(self, step: int) -> Policy:
        """The policy at ``step``."""
        policy = self.healthy(step)
        if self.failure is None or self.onset is None or step < self.onset:
            return policy
        if self.end is not None and step >= self.end:
            return policy
        return self.failure(policy, self.healthy(self.onset), step - self.onset)

    def problems(self) -> tuple[Problem, ...]:
        """The problems the run's prompts are drawn from."""
        return (PI1,) if self.healthy is saturating else BANK


HEALTHY = (Run("learning", learning), Run("saturating", saturating))


def _failing(kind: str, failure: Failure, healthy: Callable[[int], Policy], held_out: bool) -> Run:
    onset = (HELD_OUT_ONSETS if held_out else ONSETS)[kind]
    name = f"{kind}{'_held_out' if held_out else ''}"
    return Run(name, healthy, kind=kind, failure=failure, onset=onset, held_out=held_out)


FAILING = (
    _failing("verdict_gaming", always_agreeing, learning, held_out=False),
    _failing("verdict_gaming", drifting_to_agree, learning, held_out=True),
    _failing("format_without_answers", shape_learned, learning, held_out=False),
    _failing("format_without_answers", shape_over_answers, learning, held_out=True),
    _failing("truncation", runaway_lengths, learning, held_out=False),
    _failing("truncation", repetition_loops, saturating, held_out=True),
    _failing("answer_collapse", one_value_for_all, learning, held_out=False),
    _failing("answer_collapse", believed_wrong_value, saturating, held_out=True),
    _failing("no_learning_signal", too_hard, learning, held_out=False),
    _failing("no_learning_signal", wrong_labels, learning, held_out=True),
    _failing("scoring_failures", unverifiable_answers, learning, held_out=False),
    _failing("scoring_failures", hanging_answers, saturating, held_out=True),
)
"""Every failure pattern; ``held_out`` marks the ones never tuned on."""


def recovering(run: Run) -> Run:
    """``run`` with its failure stopped ``RECOVERY_AFTER`` steps after its onset."""
    if run.onset is None:
        raise ValueError(f"{run.name} has no failure to recover from")
    return replace(run, name=f"{run.name}_recovering", end=run.onset + RECOVERY_AFTER)


def _sigmoid(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def _reflection(rng: random.Random, policy: Policy, judged_right: bool) -> str:
    if rng.random() < policy.no_verdict:
        return NO_VERDICT
    says_correct = policy.says_correct_right if judged_right else policy.says_correct_wrong
    return rng.choice(policy.agreeing if rng.random() < says_correct else SAYS_WRONG)


def _answer(
    rng: random.Random, problem: Problem, policy: Policy, p_right: float
) -> tuple[str, bool]:
    """The written answer and whether the policy believes it right."""
    if policy.collapse is not None and rng.random() < policy.collapse[1]:
        return policy.collapse[0], policy.collapse_believed
    if rng.random() < policy.overlong:
        return OVERLONG_ANSWER, False
    if rng.random() < policy.hanging:
        return HANGING_ANSWER, False
    if rng.random() < p_right:
        return rng.choice(problem.right), True
    weights = [len(problem.wrong) - rank for rank in range(len(problem.wrong))]
    return rng.choices(problem.wrong, weights)[0], False


def _text(rng: random.Random, problem: Problem, policy: Policy, p_right: float) -> str:
    answer, believed = _answer(rng, problem, policy, p_right)
    think = rng.choice(problem.think)
    reflection = f"<reflection>I substituted it back. {_reflection(rng, policy, believed)}"
    reflection += "</reflection>"
    if rng.random() < policy.format:
        return f"<think>{think}</think>\nSo the answer is \\boxed{{{answer}}}.\n{reflection}"
    broken = rng.choice(BROKEN_FORMATS)
    if broken == "no_box":
        return f"<think>{think}</think>\nSo the answer is {answer}.\n{reflection}"
    if broken == "no_think":
        return f"{think}\nSo the answer is \\boxed{{{answer}}}.\n{reflection}"
    if broken == "no_reflection":
        return f"<think>{think}</think>\nSo the answer is \\boxed{{{answer}}}."
    return f"<think>{think}</think>\nThe answer is \\boxed{{{answer}}}.\n{reflection}\nHuman:"


def _tokens(rng: random.Random, policy: Policy) -> int:
    if rng.random() < policy.looping:
        return policy.max_tokens
    tokens = round(policy.tokens * math.exp(rng.gauss(0, policy.token_spread)))
    return max(16, min(policy.max_tokens, tokens))


def _sample(
    rng: random.Random, run: Run, policy: Policy, problem: Problem, ease: float, group: str
) -> dict[str, Any]:
    tokens = _tokens(rng, policy)
    truncated = tokens >= policy.max_tokens
    if truncated:  # cut inside the think block: no answer, no reflection
        response = f"<think>{rng.choice(problem.think)} So let me redo this. So let me"
    else:
        response = _text(rng, problem, policy, _sigmoid(policy.skill + ease))
    label = problem.label
    if policy.mislabeled:
        problems = run.problems()
        label = problems[(problems.index(problem) + 1) % len(problems)].label
    return {
        "response": response,
        "ground_truth": label,
        "group": group,
        "response_tokens": tokens,
        "truncated": truncated,
    }


def step_items(run: Run, step: int) -> list[dict[str, Any]]:
    """The items of one step, in the order their rollouts finished."""
    rng = random.Random(f"{run.seed}/{step}")
    policy = run.policy(step)
    problems = run.problems()
    items = []
    for prompt in range(run.prompts):
        problem = rng.choice(problems)
        spread = rng.gauss(0, policy.ease_spread) if policy.ease_spread else 0.0
        ease = policy.ease_shift + spread
        group = f"{step}-{prompt}-{rng.getrandbits(32):08x}"  # verl's uid: unique per prompt
        items += [_sample(rng, run, policy, problem, ease, group) for _ in range(run.samples)]
    rng.shuffle(items)
    return items


def requests(run: Run, steps: range | None = None) -> Iterator[dict[str, Any]]:
    """The ``/score`` request bodies of ``steps`` (all of the run's by default), in order."""
    for step in steps if steps is not None else range(run.steps):
        items = step_items(run, step)
        for start in range(0, len(items), run.batch_size):
            yield {"step": step, "items": items[start : start + run.batch_size]}
