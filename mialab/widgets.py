"""Interactive explorers for the notebooks (needs the ``course`` extra: ipywidgets).

Each widget only wraps tested functions from the package; it holds no logic of its own. Figures
are rendered to PNG and shown in an ``Image`` widget, so they redraw in place without flicker.
"""

from __future__ import annotations

import base64
import html
import io

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from mialab import plots, training
from mialab._checks import float_array, is_number
from mialab.attacks.language import exposure_estimate
from mialab.metrics import AttackResult, confusion_at
from mialab.models import CharLM

__all__ = ["threshold_explorer", "attack_explorer", "completion_explorer"]


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


class _Explorer(w.VBox):
    """Controls, a summary and a figure. Where no kernel runs (the course website, nbviewer,
    GitHub), the saved notebook shows it as a still: its settings, summary and figure as they
    were when the cell ran. JupyterLab still shows the live widget, which it ranks first.
    """

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        settings = ", ".join(
            f"{html.escape(str(child.description))} = {html.escape(str(child.value))}"
            for child in self.children
            if not isinstance(child, w.HTML | w.Image) and getattr(child, "description", "")
        )
        parts = [f"<p><em>Interactive in Jupyter; shown here as it opened ({settings}).</em></p>"]
        for child in self.children:
            if isinstance(child, w.HTML):
                parts.append(f"<p>{child.value}</p>")
            elif isinstance(child, w.Image):
                encoded = base64.b64encode(child.value).decode("ascii")
                parts.append(f'<img src="data:image/png;base64,{encoded}" alt="the figure">')
        bundle["text/html"] = "<div>" + "".join(parts) + "</div>"
        return bundle


def threshold_explorer(result: AttackResult) -> w.VBox:
    """Slide an attack's threshold and watch TPR, FPR and precision move (lesson 00).

    The slider picks the fraction of records left *below* the threshold, so it moves evenly
    through skewed scores; the figure shows the threshold on the score histograms and the
    attack's operating point on its ROC curve. The counts come from
    :func:`mialab.metrics.confusion_at`.

    Args:
        result: an :class:`~mialab.metrics.AttackResult`.

    Returns:
        An ipywidgets box; display it, or let it be a cell's last value.

    Example:
        >>> from mialab.metrics import evaluate
        >>> box = threshold_explorer(evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]))
        >>> slider, summary, image = box.children
        >>> slider.value = 0.75  # flag the top quarter: the member scored 0.9
        >>> print(summary.value)
        threshold τ = 0.825: flags 1 of 4 records; TPR 50.0%, FPR 0.0%, precision 100.0%
    """
    if not isinstance(result, AttackResult):
        raise TypeError(f"result must be an AttackResult, got {type(result).__name__}")
    slider = w.FloatSlider(
        value=0.5,
        min=0.0,
        max=1.0,
        step=0.005,
        description="quantile",
        readout_format=".1%",
        continuous_update=False,
    )
    summary = w.HTML()
    image = w.Image(format="png")

    def draw(change=None):
        threshold = float(np.quantile(result.scores, slider.value))
        counts = confusion_at(result.scores, result.is_member, threshold)
        flagged = counts.true_positives + counts.false_positives
        summary.value = (
            f"threshold τ = {threshold:.4g}: flags {flagged} of {len(result.scores)} records; "
            f"TPR {counts.tpr:.1%}, FPR {counts.fpr:.1%}, precision {counts.precision:.1%}"
        )
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        plots.score_histogram(result, ax=left, threshold=threshold)
        plots.roc(result, ax=right)
        # On log axes a rate of 0 cannot be drawn; show it at the plot's edge instead.
        edge = result.min_fpr / 2
        right.plot(
            max(counts.fpr, edge),
            max(counts.tpr, edge),
            "o",
            color="black",
            ms=8,
            label="this threshold",
        )
        right.legend(loc="lower right", fontsize="small")
        image.value = _png(fig)

    slider.observe(draw, names="value")
    draw()
    return _Explorer([slider, summary, image])


def _rate(result: AttackResult, fpr: float) -> str:
    """TPR at ``fpr`` with its interval, or a dash where the non-members cannot resolve it."""
    if not result.measurable(fpr):
        return f"— (needs {int(np.ceil(1 / fpr))} non-members)"
    low, high = result.tpr_ci(fpr)
    return f"{result.tpr_at(fpr):.1%} [{low:.1%}, {high:.1%}]"


def attack_explorer(
    results: dict, *, baseline: AttackResult | None = None, unit: str = "reference models"
) -> w.VBox:
    """Pick an attack and a setting; see its log-log ROC (lessons 01, 02, 03, 08 and 09).

    Args:
        results: ``{(attack_name, setting): AttackResult}``, computed beforehand; the setting is
            a number: reference models (lesson 01), label queries per record (lesson 02),
            training epochs (03, 09), a timestep (08).
        baseline: a result drawn in every figure for comparison (e.g. the loss attack).
        unit: what the setting is, the slider's label and the summary's.

    Returns:
        An ipywidgets box with a dropdown, a slider, a summary line and the figure.

    Example:
        >>> from mialab.metrics import evaluate
        >>> toy = {("A", n): evaluate([n, 0.8, 0.3, 0.1], [1, 0, 1, 0]) for n in (1, 2)}
        >>> attack, n_models, summary, image = attack_explorer(toy).children
        >>> n_models.value = 1
        >>> print(summary.value)  # doctest: +NORMALIZE_WHITESPACE
        A, reference models = 1: AUC 0.750 [0.000, 1.000],
        TPR — (needs 1000 non-members) at 0.1% FPR, TPR — (needs 100 non-members) at 1% FPR
    """
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {(attack, n_models): AttackResult}")
    for key, value in results.items():
        if not (
            isinstance(key, tuple)
            and len(key) == 2
            and isinstance(key[0], str)
            and is_number(key[1])
            and isinstance(value, AttackResult)
        ):
            raise TypeError("results must map (attack name, number of models) to AttackResult")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a string, got {type(unit).__name__}")
    if baseline is not None and not isinstance(baseline, AttackResult):
        raise TypeError(f"baseline must be an AttackResult, got {type(baseline).__name__}")
    names = sorted({name for name, _ in results})
    attack = w.Dropdown(options=names, value=names[0], description="attack")

    def counts_for(name):
        return sorted(n for other, n in results if other == name)

    n_models = w.SelectionSlider(
        description=unit,
        style={"description_width": "initial"},  # the whole label, not its first letters
        continuous_update=False,
        options=counts_for(names[0]),
        value=counts_for(names[0])[-1],
    )
    summary = w.HTML()
    image = w.Image(format="png")

    def draw(change=None):
        result = results[(attack.value, n_models.value)]
        rates = ", ".join(
            f"TPR {_rate(result, fpr)} at {fpr:.1%} FPR".replace(".0%", "%")
            for fpr in (0.001, 0.01)
        )
        low, high = result.auc_ci
        summary.value = (
            f"{attack.value}, {unit} = {n_models.value}: AUC {result.auc:.3f} "
            f"[{low:.3f}, {high:.3f}], {rates}"
        )
        fig, ax = plt.subplots(figsize=(5, 5))
        plots.roc([result] + ([baseline] if baseline else []), ax=ax)
        image.value = _png(fig)

    def choose_attack(change=None):
        options = counts_for(attack.value)
        keep = n_models.value if n_models.value in options else options[-1]
        n_models.unobserve(draw, names="value")  # redraw once, not on each of the two changes
        n_models.options = options
        n_models.value = keep
        n_models.observe(draw, names="value")
        draw()

    attack.observe(choose_attack, names="value")
    n_models.observe(draw, names="value")
    draw()
    return _Explorer([attack, n_models, summary, image])


def completion_explorer(model, candidate_logprobs, *, space_size: int, prefix: str = "") -> w.VBox:
    """Type a prefix; see the language model's completion and how exposed it is (lesson 06).

    The completion is greedy (:func:`mialab.training.complete`). Its exposure is estimated as
    in :func:`mialab.attacks.exposure_estimate`: its total log-probability ranked against
    ``candidate_logprobs``, those of candidates drawn at random from a space of ``space_size``
    texts of the same format (a secret completed from a canary's prefix is such a candidate).
    The figure shows the probability of every character of the completed text.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> lm = models.char_lm("\\nab ")
        >>> candidates = np.linspace(-40.0, -20.0, 60)
        >>> text, summary, image = completion_explorer(lm, candidates, space_size=1000,
        ...                                            prefix="ab").children
        >>> summary.value.startswith("<b>ab</b>")
        True
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a mialab.models.CharLM, got {type(model).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
    sample = float_array(candidate_logprobs, "candidate_logprobs", ndim=1)
    try:  # the same checks the estimate makes at every redraw, named for this function
        exposure_estimate(min(float(sample.max()), 0.0), sample, space_size=space_size)
    except (TypeError, ValueError) as error:
        raise type(error)(str(error).replace("sample_logprobs", "candidate_logprobs")) from None
    text = w.Text(value=prefix, description="prefix", continuous_update=False,
                  layout=w.Layout(width="90%"))  # fmt: skip
    summary = w.HTML()
    image = w.Image(format="png")

    def draw(change=None):
        room = model.context - 1 - len(text.value)  # what the model can still read and score
        if room < 1:
            summary.value = f"<i>the prefix fills the model's context of {model.context}</i>"
            return
        try:
            completed = training.complete(model, text.value, max_chars=min(room, 120))
        except ValueError as error:  # a character the model does not know
            summary.value = f"<i>{html.escape(str(error))}</i>"
            return
        (logprobs,) = training.token_logprobs(model, [completed])
        bits = exposure_estimate(logprobs.sum(), sample, space_size=space_size)
        generated = completed[len(text.value) :]
        summary.value = (
            f"<b>{html.escape(text.value)}</b>{html.escape(generated)}<br>"
            f"log-probability of the whole text "
            f"{logprobs.sum():.1f} nats; as a candidate of the sampled format: exposure "
            f"{bits:.1f} of at most {np.log2(space_size):.1f} bits"
        )
        fig, ax = plt.subplots(figsize=(max(6, len(completed) / 7), 2.2))
        characters = list(completed) + ["⏎"]
        ax.bar(range(len(characters)), np.exp(logprobs), color=[
            "grey" if i < len(text.value) else "C0" for i in range(len(characters))
        ])  # fmt: skip
        ax.set_xticks(range(len(characters)), characters, fontsize=8)
        ax.set(ylim=(0, 1), ylabel="P(character)", title="grey: your prefix · blue: the model's")
        image.value = _png(fig)

    text.observe(draw, names="value")
    draw()
    return _Explorer([text, summary, image])
