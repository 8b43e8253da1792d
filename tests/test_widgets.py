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


def test_attack_explorer_switches_attack_and_model_count(rng):
    from mialab.widgets import attack_explorer

    is_member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    results = {
        (name, n): evaluate(rng.normal(size=100) + shift * n * is_member, is_member)
        for name, shift in (("strong", 1.0), ("weak", 0.1))
        for n in (1, 4)
    }
    attack, n_models, summary, image = attack_explorer(results).children
    assert attack.options == ("strong", "weak") and n_models.options == (1, 4)
    assert summary.value.startswith("strong with 4 reference model(s)")
    n_models.value = 1
    assert summary.value.startswith("strong with 1 reference model(s)")
    attack.value = "weak"
    assert summary.value.startswith("weak with 1")
    assert f"AUC {results[('weak', 1)].auc:.3f}" in summary.value
    assert bytes(image.value).startswith(b"\x89PNG")
