"""The conventions of docs/API.md that a machine can check, over the whole package."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from test_probe_coverage import MODULES  # the public modules whose callables are the API

PACKAGE = Path(__file__).resolve().parents[1] / "mialab"
# Argument names docs/API.md replaces, and by what.
RETIRED = {
    "y": "labels",
    "ref_logits": "reference_logits",
    "ref_in_mask": "reference_in_mask",
    "shadow_logits": "reference_logits",
    "shadow_in_mask": "reference_in_mask",
    "reference": "reference_samples",
    "truth": "is_member",
    "epsilon": "radius (or target_epsilon)",
    "verbose": "progress",
    "random_state": "seed",
    "rng": "seed",
}


# A Dataset keeps scikit-learn's field names (X, y): its constructor takes its fields.
DATASET_FIELDS = {"mialab.data.Dataset.__init__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """Every import in ``module`` (at any depth): (imported module, name or None, line)."""
    tree = ast.parse(SOURCES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


def resolved(target: str, name: str | None) -> str:
    """The mialab module an import reaches: ``from mialab import data`` reaches mialab.data."""
    if name and f"{target}.{name}" in SOURCES:
        return f"{target}.{name}"
    return target


def test_no_module_uses_another_modules_underscore_names():
    offences = []
    for module in SOURCES:
        aliases = {}  # local name -> mialab module it is bound to
        for target, name, line in imports(module):
            if not target.startswith("mialab"):
                continue
            if name and name.startswith("_") and not name.startswith("__"):
                if f"{target}.{name}" not in SOURCES:  # a private module is fine, its names not
                    offences.append(f"{module}:{line} imports {target}.{name}")
            reached = resolved(target, name)
            if name and reached != target:
                aliases[name] = reached
        tree = ast.parse(SOURCES[module].read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not offences, offences


def test_the_modules_import_each_other_without_a_cycle():
    graph = {
        module: {
            resolved(target, name)
            for target, name, _ in imports(module)
            if resolved(target, name) in SOURCES and resolved(target, name) != module
        }
        for module in SOURCES
    }
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                cycle = [*path[path.index(other) :], other]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if other not in state:
                visit(other, [*path, other])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def public_callables():
    for module_name_ in MODULES:
        module = importlib.import_module(module_name_)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                yield f"{module_name_}.{name}", value


def signatures():
    for qualified, value in public_callables():
        if inspect.isfunction(value):
            yield qualified, inspect.signature(value)
            continue
        for method_name, method in vars(value).items():
            if inspect.isfunction(method) and (
                not method_name.startswith("_") or method_name == "__init__"
            ):
                yield f"{qualified}.{method_name}", inspect.signature(method)


def test_arguments_use_the_one_vocabulary():
    offences = [
        f"{name}({parameter}): say {RETIRED[parameter]}"
        for name, signature in signatures()
        for parameter in signature.parameters
        if parameter in RETIRED and name not in DATASET_FIELDS
    ]
    assert not offences, offences


def test_progress_defaults_to_tqdms_choice_and_device_to_the_cpu():
    offences = []
    for name, signature in signatures():
        progress = signature.parameters.get("progress")
        if progress is not None and progress.default is not None:
            offences.append(f"{name}: progress={progress.default!r}")
        device = signature.parameters.get("device")
        if device is not None and device.default not in ("cpu", inspect.Parameter.empty):
            offences.append(f"{name}: device={device.default!r}")
    assert not offences, offences


def test_attacks_that_learn_fit_on_reference_models_and_score_samples():
    from mialab import attacks

    learners = [getattr(attacks, n) for n in attacks.__all__ if hasattr(getattr(attacks, n), "fit")]
    assert len(learners) >= 3
    for attack in learners:
        assert not hasattr(attack, "score"), f"{attack.__name__}.score: say score_samples"
        assert callable(getattr(attack, "score_samples", None)), attack.__name__
        fit_args = list(inspect.signature(attack.fit).parameters)[1:4]
        assert fit_args == ["reference_logits", "reference_in_mask", "labels"], attack.__name__
        labels = inspect.signature(attack.score_samples).parameters.get("labels")
        assert labels is None or labels.default is None, f"{attack.__name__}: labels from fit"
        assert attack().online is False if hasattr(attack(), "online") else True


def test_stateless_attacks_are_named_score():
    from mialab import attacks

    functions = [n for n in attacks.__all__ if inspect.isfunction(getattr(attacks, n))]
    helpers = {
        "lira_statistic",
        "mask_confidences",
        "exposure",
        "exposure_estimate",
        "extraction_ratio",  # extraction is not membership: these find copies among samples
        "extracted",
    }
    unnamed = [n for n in functions if not n.endswith("_score") and n not in helpers]
    assert not unnamed, unnamed


@pytest.mark.parametrize(
    "statement",
    [
        "import mialab",
        "import mialab.attacks",
        "from mialab.attacks import loss_score, lm_zlib_score, LiRA, RMIA",
        "import mialab.attacks.threshold",
        "import mialab.metrics",
        "import mialab.data",
    ],
)
def test_array_only_code_loads_without_torch(statement):
    code = f"{statement}; import sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"{statement} loaded torch"


def test_submodules_load_on_first_use():
    code = (
        "import sys, mialab; before = sorted(m for m in sys.modules if m.startswith('mialab.'));"
        "mialab.metrics; print(before, 'mialab.metrics' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['mialab._memory'] True"
