"""Generating a completion from a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from ..errors import UsageError
from .data import ROLE_MARKERS, uses_chat_template


def _template(run_dir: Path) -> str:
    config = run_dir / "config.yaml"
    if not config.exists():
        config = run_dir.parent / "config.yaml"
    if config.exists():
        from omegaconf import OmegaConf

        return str(
            OmegaConf.select(OmegaConf.load(config), "data.template", default="auto")
        )
    return "auto"


def sample(
    run_dir: Path | str,
    prompt: str,
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    seed: int = 0,
) -> str:
    """The model's reply to ``prompt`` as a user message (greedy unless ``temperature``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.utils import logging as hf_logging

    # Loading bars and generation notices are not the reply.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    from .lora import is_adapter, load_adapter_model

    directory = Path(run_dir)
    if (
        not ((directory / "config.json").is_file() or is_adapter(directory))
        or not (directory / "tokenizer_config.json").is_file()
    ):
        raise UsageError(
            f"{run_dir}: no trained model here (expected config.json and a tokenizer "
            "saved by a finished `codex train`, or a checkpoint-N directory)"
        )
    if max_new_tokens < 1:
        raise UsageError(
            f"--max-new-tokens {max_new_tokens}: expected a positive number"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = (
        load_adapter_model(directory)
        if is_adapter(directory)
        else AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    )
    model.eval()
    messages = [{"role": "user", "content": prompt}]
    if uses_chat_template(tokenizer, _template(directory)):
        text = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
    else:
        text = (
            f"{ROLE_MARKERS['user']}\n{prompt}\n<|end|>\n{ROLE_MARKERS['assistant']}\n"
        )
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    stop = [
        t
        for t in (tokenizer.convert_tokens_to_ids("<|end|>"), tokenizer.eos_token_id)
        if isinstance(t, int) and t != tokenizer.unk_token_id
    ]
    limit = getattr(model.config, "n_positions", None) or getattr(
        model.config, "max_position_embeddings", None
    )
    if limit is not None:
        max_new_tokens = max(
            1, min(max_new_tokens, int(limit) - inputs["input_ids"].shape[1])
        )
        inputs = {k: v[:, -(int(limit) - 1) :] for k, v in inputs.items()}
    set_seed(seed)
    generate: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "eos_token_id": stop or None,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if temperature > 0:
        generate.update(do_sample=True, temperature=temperature)
    else:
        generate.update(do_sample=False)
    with torch.no_grad():
        # cast: the type of generate() changes across transformers releases
        output = cast(Any, model).generate(**inputs, **generate)
    new = output[0, inputs["input_ids"].shape[1] :]
    return str(tokenizer.decode(new, skip_special_tokens=True)).strip()
