"""Train models and read them: classifiers, GANs, diffusion models and language models, anywhere.

One submodule per job: ``classifiers`` (``fit``, ``learning_curves``, ``fit_many``,
``predict_logits``), ``gans`` (``fit_gan``, ``sample``), ``diffusion`` (``fit_diffusion``,
``diffusion_sample``, ``ddim_step``), ``language`` (``fit_lm``, ``token_logprobs``,
``generate``, ...), ``huggingface`` (``train_tokenizer``, ``fit_hf_lm``, ``hf_token_logprobs``:
Hugging Face causal language models), and what their loops share, ``loop`` (``resolve_device``,
``batches``) and ``checks`` (inputs checked against a model).

Every function takes ``device=`` (``"cpu"`` by default, ``"cuda"``, ``"auto"``, a
``torch.device``): it trains or computes there, and returns models on the CPU and NumPy arrays.
"""

from mialab.training.classifiers import (
    balanced_in_mask,
    fit,
    fit_many,
    learning_curves,
    predict_logits,
)
from mialab.training.diffusion import ddim_step, diffusion_sample, fit_diffusion
from mialab.training.gans import fit_gan, sample
from mialab.training.huggingface import fit_hf_lm, hf_token_logprobs, train_tokenizer
from mialab.training.language import (
    complete,
    fit_lm,
    generate,
    token_logprobs,
    total_logprobs,
)
from mialab.training.loop import batches, resolve_device

__all__ = [
    "resolve_device",
    "batches",
    "fit",
    "learning_curves",
    "fit_many",
    "balanced_in_mask",
    "predict_logits",
    "fit_gan",
    "sample",
    "fit_diffusion",
    "diffusion_sample",
    "ddim_step",
    "fit_lm",
    "token_logprobs",
    "total_logprobs",
    "generate",
    "complete",
    "train_tokenizer",
    "fit_hf_lm",
    "hf_token_logprobs",
]
