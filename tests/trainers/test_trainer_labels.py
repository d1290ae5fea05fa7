"""Labels as verl's parquet rows hold them keep every digit on their way to the service."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.test_schemas import EXACT_LABELS
from trainer.reward_items import label_of


def test_trainer_labels_keep_every_digit() -> None:
    labels = [np.float64(0.00001), np.float64(1e16), 123456789012345678901234567890]
    assert [label_of({"ground_truth": label}) for label in labels] == [t for _, t in EXACT_LABELS]
    with pytest.raises(ValueError, match="not bool"):
        label_of({"ground_truth": np.bool_(True)})
