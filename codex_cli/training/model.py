"""The models ``codex train`` trains: ``tiny`` (from scratch) and ``local`` (on disk)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

TINY_KEYS = {"name", "vocab_size", "n_layer", "n_head", "n_embd", "dropout"}
LOCAL_KEYS = {"name", "path"}
#: Fields that must agree between a checkpoint and the model being trained.
ARCHITECTURE_KEYS = (
    "model_type",
    "vocab_size",
    "n_embd",
    "n_layer",
    "n_head",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
)


def model_kind(values: dict[str, Any]) -> str:
    """``tiny`` or ``local`` (from ``model.name``), checking the group's keys."""
    name = values.get("name")
    keys = {"tiny": TINY_KEYS, "local": LOCAL_KEYS}.get(name)  # type: ignore[arg-type]
    if keys is None:
        raise UsageError(f"model.name={name!r}: expected tiny or local")
    unknown = sorted(set(values) - keys)
    if unknown:
        raise UsageError(
            f"model.{unknown[0]}: unknown key for model={name} "
            f"(known: {', '.join(sorted(keys))})"
        )
    if name == "tiny":
        for key in TINY_KEYS - {"name", "dropout"}:
            value = values.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(
                    f"model.{key}={value!r}: expected a positive whole number"
                )
        if values["n_embd"] % values["n_head"]:
            raise UsageError(
                f"model.n_embd={values['n_embd']}: must be a multiple of "
                f"model.n_head={values['n_head']}"
            )
    return name  # type: ignore[return-value]


def check_model_dir(path: Any) -> Path:
    """A pretrained model directory (``config.json`` + weights), or a usage error."""
    if not path:
        raise UsageError("model.path is required for model=local: set model.path=DIR")
    directory = Path(str(path)).expanduser()
    config = directory / "config.json"
    weights = [*directory.glob("*.safetensors"), *directory.glob("pytorch_model*.bin")]
    if not directory.is_dir() or not config.is_file() or not weights:
        raise UsageError(
            f"model.path={path}: not a model directory "
            "(expected config.json and weights saved by save_pretrained)"
        )
    return directory


def has_chat_template(path: Path) -> bool:
    """The tokenizer saved in ``path`` has a chat template (without loading weights)."""
    if (path / "chat_template.jinja").is_file() or (
        path / "chat_template.json"
    ).is_file():
        return True
    try:
        config = json.loads(
            (path / "tokenizer_config.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return False
    return bool(config.get("chat_template"))


def load_local(path: Path) -> tuple[Any, Any]:
    """Tokenizer and model from a ``save_pretrained`` directory; nothing is downloaded."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    return tokenizer, model


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def build_tiny(values: dict[str, Any], tokenizer: Any, max_length: int) -> Any:
    """A GPT-2 from scratch sized by the ``model`` group (weights seeded by the caller)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    dropout = float(values.get("dropout", 0.0))
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=max_length,
        n_embd=values["n_embd"],
        n_layer=values["n_layer"],
        n_head=values["n_head"],
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)


def architecture(config: dict[str, Any]) -> dict[str, Any]:
    return {key: config[key] for key in ARCHITECTURE_KEYS if key in config}


def check_same_architecture(checkpoint: Path, model: Any) -> None:
    """Refuse a checkpoint written for a different model."""
    try:
        saved = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"--resume {checkpoint}: no readable config.json, "
            "not a checkpoint of this run"
        ) from None
    ours = architecture(model.config.to_dict())
    theirs = architecture(saved)
    if ours != theirs:
        diff = next(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise UsageError(
            f"--resume {checkpoint}: checkpoint is for another model "
            f"({diff}={theirs.get(diff)!r}, this model has {ours.get(diff)!r})"
        )


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
