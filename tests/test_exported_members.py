"""The scoring core's public surface is small and pinned."""

import reward_service.scoring


def test_scoring_exports() -> None:
    assert set(reward_service.scoring.__all__) == {
        "MultiSignalMathReward",
        "RewardWeights",
        "ScoreResult",
        "compute_score",
    }
    for name in reward_service.scoring.__all__:
        assert getattr(reward_service.scoring, name).__module__.startswith("reward_service.scoring")


def test_scoring_imports_without_service_or_trainer_stacks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, reward_service.scoring; "
        "bad = [m for m in ('fastapi', 'verl', 'uvicorn', 'torch') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
