import numpy as np

from mialab.metrics import evaluate
from mialab.widgets import threshold_explorer


def test_threshold_explorer_redraws_from_confusion_counts(rng):
    is_member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    result = evaluate(rng.normal(size=100) + is_member, is_member, name="toy")
    slider, summary, image = threshold_explorer(result).children
    first_png = bytes(image.value)
    assert first_png.startswith(b"\x89PNG")
    slider.value = 0.0  # threshold at the lowest score: everything flagged
    assert "flags 100 of 100 records; TPR 100.0%, FPR 100.0%" in summary.value
    assert bytes(image.value) != first_png
    slider.value = 0.99
    assert "flags 1 of 100" in summary.value
