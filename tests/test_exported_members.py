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


def test_engine_and_api_exports() -> None:
    import reward_service.api
    import reward_service.client
    import reward_service.engine

    assert set(reward_service.engine.__all__) == {
        "TIMEOUTS_KEPT",
        "TIMEOUT_TTL_S",
        "BatchItem",
        "BatchReport",
        "BatchScorer",
        "ScoringPool",
        "VerdictSharing",
        "open_batch_scorer",
    }
    assert set(reward_service.api.__all__) == {
        "CLIENT_CLOSED_REQUEST",
        "TOKEN_QUERY_KEY",
        "InFlightLimit",
        "RequireJson",
        "RequireToken",
        "ScoreRequestCounter",
        "ServiceMetrics",
        "ServiceState",
        "State",
        "decode_json",
        "read_body",
        "record_scored",
        "refuse_too_many",
        "token_accepted",
        "unless_client_leaves",
        "validated",
    }
    assert set(reward_service.client.__all__) == {
        "RewardClient",
        "RewardRequestRejected",
        "RewardServiceError",
        "RewardServiceUnavailable",
    }
    for package in (reward_service.engine, reward_service.api, reward_service.client):
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.{name}"


LAYERS = [
    {"errors", "(version)"},
    {"scoring"},
    {"stats"},
    {"settings"},
    {"engine", "client"},
    {"record"},
    {"api"},
    {"integrations"},
    {"app"},
    {"replicas", "bench", "healthcheck", "cli"},
]
"""The package's parts, lowest first: each imports only its own layer's or lower ones (the
code map in the README draws the same)."""


def _imports_of_each_part() -> dict[str, set[str]]:
    import ast
    from pathlib import Path

    package = Path(__file__).parents[1] / "reward_service"
    imports: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        part = path.relative_to(package).parts[0].removesuffix(".py")
        found = imports.setdefault("(version)" if part == "__init__" else part, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "reward_service":
                    found.add("(version)")
                elif name.startswith("reward_service."):
                    found.add(name.split(".")[1])
    return imports


def test_imports_go_one_way() -> None:
    layer = {part: level for level, parts in enumerate(LAYERS) for part in parts}
    imports = _imports_of_each_part()
    assert set(imports) <= set(layer), f"parts missing from LAYERS: {set(imports) - set(layer)}"
    upward = sorted(
        f"{part} imports {target}"
        for part, targets in imports.items()
        for target in targets
        if layer[target] > layer[part]
    )
    assert upward == []
