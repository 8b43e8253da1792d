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
    assert summary.value.startswith("strong, reference models = 4")
    n_models.value = 1
    assert summary.value.startswith("strong, reference models = 1")
    attack.value = "weak"
    assert summary.value.startswith("weak, reference models = 1")
    assert f"AUC {results[('weak', 1)].auc:.3f}" in summary.value
    assert bytes(image.value).startswith(b"\x89PNG")


def test_completion_explorer_completes_and_ranks_the_completion():
    from mialab import models, training
    from mialab.widgets import completion_explorer

    lm = training.fit_lm(models.char_lm("\nab "), ["ab ab ab"] * 20, epochs=20)
    candidates = np.random.default_rng(0).normal(-40, 3, size=200)  # far less likely texts
    text, summary, image = completion_explorer(
        lm, candidates, space_size=10**6, prefix="ab"
    ).children
    assert summary.value.startswith("<b>ab</b>" + training.complete(lm, "ab")[2:])
    bits = float(summary.value.split("exposure ")[1].split(" of at most 19.9 bits")[0])
    assert bits > 15
    assert bytes(image.value).startswith(b"\x89PNG")
    text.value = "c"
    assert "outside the alphabet" in summary.value


def test_an_explorer_saved_in_a_notebook_shows_a_still_where_no_kernel_runs(rng):
    import base64

    is_member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    box = threshold_explorer(evaluate(rng.normal(size=100) + is_member, is_member, name="toy"))
    slider, summary, image = box.children
    slider.value = 0.25
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live in JupyterLab
    still = bundle["text/html"]
    assert "quantile = 0.25" in still and summary.value in still
    encoded = base64.b64encode(bytes(image.value)).decode("ascii")
    assert f'<img src="data:image/png;base64,{encoded}"' in still  # the figure as it is now
