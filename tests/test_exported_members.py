"""The scoring core's public surface is small and pinned."""

import reward_service.scoring


def test_scoring_exports() -> None:
    assert set(reward_service.scoring.__all__) == {
        # for users
        "MultiSignalMathReward",
        "RewardWeights",
        "ScoreResult",
        "compute_score",
        "label_text",
        "normalize_answer",
        "scorer_version",
        # what the service builds on
        "FORMAT_RULES",
        "MAX_WEIGHT",
        "WEIGHTS_KEY",
        "ResponseAnalysis",
        "VerifyOutcome",
        "Weight",
        "error_result",
        "timed_out",
        "weights_from_extra_info",
    }
    for name in reward_service.scoring.__all__:
        member = getattr(reward_service.scoring, name)
        if callable(member) and name != "Weight":  # Weight is a typing alias, no module
            assert member.__module__.startswith("reward_service.scoring"), name


def test_no_product_module_reaches_into_the_scoring_internals() -> None:
    """Outside ``scoring/`` (and its unit tests) only the declared names are used."""
    from pathlib import Path

    root = Path(__file__).parents[1]
    sources = [
        path
        for folder in ("reward_service", "trainer", "deploy", "benchmarks")
        for path in (root / folder).rglob("*.py")
        if "scoring" not in path.relative_to(root).parts
    ]
    offenders = [str(path) for path in sources if "reward_service.scoring._" in path.read_text()]
    assert offenders == []


def test_scoring_imports_without_service_or_trainer_stacks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, reward_service.scoring; "
        "bad = [m for m in ('fastapi', 'verl', 'uvicorn', 'torch') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
