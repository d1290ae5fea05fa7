"""The package as an index would receive it: metadata, version, typing marker, assets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import httpx

from reward_service import __version__

ROOT = Path(__file__).parents[1]


def test_the_wheel_carries_metadata_version_types_and_assets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("reward_service-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["Version"] == __version__ != "0.0.0"
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier")
    assert (
        "Typing :: Typed" in classifiers and "Programming Language :: Python :: 3.11" in classifiers
    )
    assert metadata["Requires-Python"] == ">=3.11"
    for asset in (
        "reward_service/py.typed",
        "reward_service/stats/dashboard.html",
        "reward_service/static/chart.umd.min.js",
        "reward_service/static/swagger-ui/swagger-ui-bundle.js",
        "reward_service/static/swagger-ui/LICENSE",
    ):
        assert asset in names, asset
    # the distribution holds the project's own namespace only (trainer/ is the training run,
    # used from the repository; tests/, deploy/ and benchmarks/ stay there too)
    top_level = {name.split("/")[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"reward_service"}


def test_the_service_reports_the_real_version(service_url: str) -> None:
    version = httpx.get(f"{service_url}/health").json()["scorer_version"]
    assert version.startswith(f"reward-service {__version__};") and "0.0.0" not in version
