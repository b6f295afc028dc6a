"""``codex train eval RUN``: the trained model, and its base, on held-out sessions.

Measured the same way for both models:

- ``loss`` / ``perplexity``: mean negative log-likelihood of the assistant's
  tokens (the tokens training takes loss on), and its exponential;
- ``tool_name_accuracy``: at every assistant turn that calls a tool, the
  model continues the conversation greedily; the share of turns whose first
  generated call names the right tool;
- ``tool_args_valid``: the share of generated calls whose arguments are a
  JSON object.

The held-out sessions are the run's own eval split (``dataset.json`` in the
run directory, written by :func:`~codex_cli.training.trainer.train`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, UsageError
from .config import CONFIG_FILE
from .data import (
    IGNORE_INDEX,
    ROLE_MARKERS,
    Conversation,
    DataConfig,
    build_blocks,
    load_split,
    plain_segments,
)
from .tracking import DATASET_FILE

EVAL_FILE = "eval.json"
PLAIN_CALL = re.compile(r"\[call ([^\]\s]+)\]\s*([^\n]*)")


@dataclass
class Scores:
    """One model's scores on the held-out sessions."""

    loss: float | None = None
    perplexity: float | None = None
    tokens: int = 0
    tool_turns: int = 0
    tool_name_accuracy: float | None = None
    tool_args_valid: float | None = None


@dataclass
class EvalResult:
    run_dir: Path
    sessions: list[str]
    model: Scores
    base: Scores | None = None
    base_model: str | None = None
    mlflow_run_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_dir"] = str(self.run_dir)
        return out


def parse_call(text: str) -> tuple[str | None, bool]:
    """The first tool call in generated text: ``(name, arguments are a JSON object)``.

    Reads the plain template's ``[call NAME] ARGS`` and the JSON objects chat
    templates emit (``{"name": ..., "arguments": ...}``, inside ``<tool_call>``
    for Qwen, bare for Llama 3).
    """
    plain = PLAIN_CALL.search(text)
    if plain:
        return plain[1], _json_object(plain[2])
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text[start:])
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            arguments = value.get("arguments", value.get("parameters"))
            valid = isinstance(arguments, dict) or (
                isinstance(arguments, str) and _json_object(arguments)
            )
            return value["name"], valid
        start = text.find("{", start + 1)
    return None, False


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _run_config(run_dir: Path) -> dict[str, Any]:
    for directory in (run_dir, run_dir.parent):
        path = directory / CONFIG_FILE
        if path.is_file():
            from omegaconf import OmegaConf

            values = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
            assert isinstance(values, dict)
            return {str(k): v for k, v in values.items()}
    raise UsageError(f"{run_dir}: no config.yaml (not a `codex train` run directory)")


def held_out(
    run_dir: Path, values: dict[str, Any], settings: Any
) -> list[Conversation]:
    """The run's eval sessions, as the run's data filters render them today."""
    data = dict(values.get("data") or {})
    seed = int(values.get("seed", 42))
    dataset = next(
        (
            d / DATASET_FILE
            for d in (run_dir, run_dir.parent)
            if (d / DATASET_FILE).is_file()
        ),
        None,
    )
    if dataset is not None:
        ids = json.loads(dataset.read_text(encoding="utf-8"))["eval_sessions"]
        if not ids:
            raise CodexError(
                f"{run_dir}: the run held no sessions out (data.eval_fraction="
                f"{data.get('eval_fraction')}): nothing to evaluate on"
            )
        data["sessions"] = ids
        data["eval_fraction"] = 0.0
        conversations, _, _ = load_split(
            DataConfig.from_dict(data, seed=seed), settings
        )
        return conversations
    _, _, evals = load_split(DataConfig.from_dict(data, seed=seed), settings)
    if not evals:
        raise CodexError(f"{run_dir}: no held-out sessions to evaluate on")
    return evals


def _chat_template(tokenizer: Any) -> str | None:
    """A template with ``{% generation %}`` markers (TRL patches the ones it knows)."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    from trl.chat_template_utils import get_training_chat_template

    return get_training_chat_template(tokenizer) or tokenizer.chat_template


def _sequences(
    conversations: list[Conversation], tokenizer: Any, config: DataConfig
) -> list[tuple[list[int], list[int]]]:
    """``(input ids, labels)`` per session, labels only on assistant tokens."""
    template = _chat_template(tokenizer) if config.template != "plain" else None
    if template is None:
        blocks = build_blocks(
            conversations,
            tokenizer,
            DataConfig(
                **{**asdict(config), "loss_on": "assistant", "template": "plain"}
            ),
        )
        return [
            (
                b["input_ids"][: sum(b["attention_mask"])],
                b["labels"][: sum(b["attention_mask"])],
            )
            for b in blocks
        ]
    out = []
    for conversation in conversations:
        record = conversation.to_record("hf")
        encoded = tokenizer.apply_chat_template(
            record["messages"],
            tools=record["tools"] or None,
            chat_template=template,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids = list(encoded["input_ids"])[: config.max_length]
        mask = list(encoded["assistant_masks"])[: config.max_length]
        labels = [t if m else IGNORE_INDEX for t, m in zip(ids, mask, strict=True)]
        if any(label != IGNORE_INDEX for label in labels):
            out.append((ids, labels))
    return out


def _loss(
    model: Any, sequences: list[tuple[list[int], list[int]]]
) -> tuple[float | None, int]:
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for ids, labels in sequences:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            target = torch.tensor(labels[1:])
            keep = target != IGNORE_INDEX
            if keep.any():
                total += float(
                    torch.nn.functional.cross_entropy(
                        logits[keep], target[keep], reduction="sum"
                    )
                )
                count += int(keep.sum())
    return (total / count if count else None), count


def _prompt(
    messages: list[dict[str, Any]], tools: list[Any], tokenizer: Any, chat: bool
) -> str:
    if chat:
        return str(
            tokenizer.apply_chat_template(
                messages,
                tools=tools or None,
                tokenize=False,
                add_generation_prompt=True,
            )
        )
    text = "".join(t for t, _ in plain_segments(messages))
    return text + f"{ROLE_MARKERS['assistant']}\n"


def _tool_scores(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    config: DataConfig,
    max_turns: int,
    max_new_tokens: int,
) -> tuple[int, float | None, float | None]:
    import torch

    chat = (
        bool(getattr(tokenizer, "chat_template", None)) and config.template != "plain"
    )
    turns = right = valid = 0
    context = int(
        getattr(model.config, "n_positions", None)
        or getattr(model.config, "max_position_embeddings", None)
        or config.max_length
    )
    for conversation in conversations:
        record = conversation.to_record("hf")
        for i, message in enumerate(conversation.messages):
            if turns >= max_turns:
                break
            if message["role"] != "assistant" or not message.get("tool_calls"):
                continue
            expected = message["tool_calls"][0]["function"]["name"]
            text = _prompt(record["messages"][:i], record["tools"], tokenizer, chat)
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            # The prompt's end and the reply must fit in the model's context.
            new_tokens = max(1, min(max_new_tokens, context // 2))
            ids = {k: v[:, -(context - new_tokens) :] for k, v in ids.items()}
            with torch.no_grad():
                output = model.generate(
                    **ids,
                    max_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            generated = tokenizer.decode(
                output[0, ids["input_ids"].shape[1] :], skip_special_tokens=False
            )
            name, args_ok = parse_call(generated)
            turns += 1
            right += name == expected
            valid += args_ok
    if not turns:
        return 0, None, None
    return turns, right / turns, valid / turns


def score(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    config: DataConfig,
    *,
    max_turns: int = 20,
    max_new_tokens: int = 64,
) -> Scores:
    """Loss, perplexity and tool-call scores of ``model`` on ``conversations``."""
    model.eval()
    loss, tokens = _loss(model, _sequences(conversations, tokenizer, config))
    turns, accuracy, args_valid = _tool_scores(
        model, tokenizer, conversations, config, max_turns, max_new_tokens
    )
    return Scores(
        loss=loss,
        perplexity=math.exp(min(loss, 700.0)) if loss is not None else None,
        tokens=tokens,
        tool_turns=turns,
        tool_name_accuracy=accuracy,
        tool_args_valid=args_valid,
    )


def evaluate(
    run_dir: Path | str,
    *,
    settings: Any = None,
    max_turns: int = 20,
    max_new_tokens: int = 64,
    base: bool = True,
) -> EvalResult:
    """Score a finished run (and its base model) on its held-out sessions; log to MLflow."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from ..settings import Settings
    from .lora import is_adapter, load_adapter_model, quiet_library_warnings
    from .model import load_tokenizer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    quiet_library_warnings()
    directory = Path(run_dir)
    if not ((directory / "config.json").is_file() or is_adapter(directory)):
        raise UsageError(
            f"{run_dir}: no trained model here (a finished `codex train` run directory "
            "or a checkpoint-N)"
        )
    if max_turns < 0 or max_new_tokens < 1:
        raise UsageError("--max-turns must be >= 0 and --max-new-tokens >= 1")
    settings = settings or Settings.from_env()
    values = _run_config(directory)
    config = DataConfig.from_dict(
        values.get("data") or {}, seed=int(values.get("seed", 42))
    )
    conversations = held_out(directory, values, settings)
    tokenizer = load_tokenizer(directory)
    kwargs = {"max_turns": max_turns, "max_new_tokens": max_new_tokens}
    result = EvalResult(directory, [c.session_id for c in conversations], Scores())
    if is_adapter(directory):
        model = load_adapter_model(directory)
        result.model = score(model, tokenizer, conversations, config, **kwargs)
        result.base_model = str(model.peft_config["default"].base_model_name_or_path)
        if base:
            with model.disable_adapter():
                result.base = score(model, tokenizer, conversations, config, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
        result.model = score(model, tokenizer, conversations, config, **kwargs)
        path = (values.get("model") or {}).get("path")
        if (values.get("model") or {}).get("name") == "local" and path and base:
            result.base_model = str(path)
            original = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
            result.base = score(original, tokenizer, conversations, config, **kwargs)
        elif base:
            result.notes.append("no base model: this model was trained from scratch")
    (directory / EVAL_FILE).write_text(
        json.dumps(result.to_dict(), indent=2), encoding="utf-8"
    )
    result.mlflow_run_id = _log_to_mlflow(directory, result)
    return result


def _log_to_mlflow(directory: Path, result: EvalResult) -> str | None:
    """Beside the run's metrics, when the run was tracked (``mlflow_run.json``)."""
    from .tracking import RUN_ID_FILE, mlflow_available

    saved = next(
        (
            d / RUN_ID_FILE
            for d in (directory, directory.parent)
            if (d / RUN_ID_FILE).is_file()
        ),
        None,
    )
    if saved is None or not mlflow_available():
        return None
    import logging

    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    info = json.loads(saved.read_text(encoding="utf-8"))
    client = mlflow.MlflowClient(info["tracking_uri"])
    for prefix, scores in (("heldout", result.model), ("base", result.base)):
        if scores is None:
            continue
        for key, value in asdict(scores).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                client.log_metric(info["run_id"], f"{prefix}_{key}", float(value))
    client.log_artifact(info["run_id"], str(directory / EVAL_FILE))
    return str(info["run_id"])
