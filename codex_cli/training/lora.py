"""LoRA fine-tuning of a pretrained model (``model=local trainer=lora``) through TRL.

TRL's ``SFTTrainer`` renders each session with the model's own chat template
(tool calls and the ``tools`` list included), takes the loss on assistant
tokens only (``assistant_only_loss``: the template's ``{% generation %}``
markers, which TRL adds to the templates it knows) and wraps the model in a
peft LoRA adapter. What is ours: the sessions, the run directory, resume,
signals and tracking (:mod:`codex_cli.training.trainer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .data import Conversation

LORA_KEYS = {"r", "alpha", "dropout", "target_modules"}
#: ``trainer.*`` values that mean "decide from the hardware".
AUTO = "auto"


def quiet_library_warnings() -> None:
    """peft and TRL still call transformers' renamed checkpointing helpers: not the user's news."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def check_lora(values: Any) -> dict[str, Any]:
    """The ``trainer.lora`` mapping, validated."""
    if not isinstance(values, dict):
        raise UsageError(f"trainer.lora={values!r}: expected a mapping (r, alpha, ...)")
    unknown = sorted(set(values) - LORA_KEYS)
    if unknown:
        raise UsageError(
            f"trainer.lora.{unknown[0]}: unknown key (known: {', '.join(sorted(LORA_KEYS))})"
        )
    for key in ("r", "alpha"):
        value = values.get(key, 8)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(
                f"trainer.lora.{key}={value!r}: expected a positive whole number"
            )
    dropout = values.get("dropout", 0.0)
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise UsageError(
            f"trainer.lora.dropout={dropout!r}: expected a number in [0, 1)"
        )
    return values


def lora_config(values: dict[str, Any]) -> Any:
    from peft import LoraConfig

    targets = values.get("target_modules", "all-linear")
    return LoraConfig(
        r=int(values.get("r", 8)),
        lora_alpha=int(values.get("alpha", 16)),
        lora_dropout=float(values.get("dropout", 0.0)),
        target_modules=targets if isinstance(targets, str) else list(targets),
        task_type="CAUSAL_LM",
    )


def resolve_auto(values: dict[str, Any]) -> dict[str, Any]:
    """``bf16: auto`` / ``activation_checkpointing: auto``: on where a GPU supports them, off on CPU."""
    import torch

    cuda = torch.cuda.is_available()
    out = dict(values)
    if out.get("bf16") == AUTO:
        out["bf16"] = cuda and torch.cuda.is_bf16_supported()
    for key in ("activation_checkpointing", "gradient_checkpointing"):
        if out.get(key) == AUTO:
            out[key] = cuda
    return out


def hf_dataset(conversations: Sequence[Conversation]) -> Any:
    """A ``datasets.Dataset`` in the messages + tools layout TRL reads."""
    from datasets import Dataset

    records = [c.to_record("hf") for c in conversations]
    # Tool arguments differ from call to call: store them as JSON, not one struct.
    return Dataset.from_list(records, on_mixed_types="use_json")


def load_base(path: Path, bf16: bool) -> tuple[Any, Any]:
    """Tokenizer and model (fp32 on CPU, bf16 when asked); the tokenizer needs a chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(
            f"model.path={path}: trainer=lora renders sessions with the model's chat "
            "template, and this tokenizer has none"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        path,
        local_files_only=True,
        dtype=torch.bfloat16 if bf16 else torch.float32,
    )
    return tokenizer, model


def sft_trainer(
    model: Any,
    tokenizer: Any,
    args: Any,
    train_set: Sequence[Conversation],
    eval_set: Sequence[Conversation],
    lora: dict[str, Any] | None,
    callbacks: list[Any],
) -> Any:
    """TRL's ``SFTTrainer``, with a LoRA adapter on ``model`` when ``lora`` is given."""
    from trl import SFTTrainer

    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=hf_dataset(train_set),
        eval_dataset=hf_dataset(eval_set) if eval_set else None,
        processing_class=tokenizer,
        peft_config=lora_config(lora) if lora is not None else None,
        callbacks=callbacks,
    )


def is_adapter(directory: Path) -> bool:
    return (directory / "adapter_config.json").is_file()


def load_adapter_model(directory: Path) -> Any:
    """The base model with the run's adapter (the base is read from where it was trained)."""
    from peft import AutoPeftModelForCausalLM

    quiet_library_warnings()
    return AutoPeftModelForCausalLM.from_pretrained(directory, local_files_only=True)


def merge(run_dir: Path | str, output: Path | str) -> Path:
    """Merge a LoRA run's adapter into its base model; save model and tokenizer to ``output``."""
    from transformers import AutoTokenizer

    directory, out = Path(run_dir), Path(output)
    if not is_adapter(directory):
        raise UsageError(
            f"{run_dir}: no LoRA adapter here (expected adapter_config.json from "
            "a finished `codex train trainer=lora` or one of its checkpoints)"
        )
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--output {output}: not empty")
    model = load_adapter_model(directory).merge_and_unload()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(directory, local_files_only=True).save_pretrained(out)
    return out
