"""LoRA through TRL on a tiny random Qwen2 model from disk: mask, resume, sample, merge."""

from __future__ import annotations

import json
from pathlib import Path

from train_helpers import losses, make_log, make_pretrained

from codex_cli.settings import Settings

LORA = [
    "model=local",
    "trainer=lora",
    "tracking=none",
    "threads=1",
    # Qwen2.5's template puts the tool list in a system prompt: room for it.
    "data.max_length=1024",
    "trainer.per_device_train_batch_size=2",
    "trainer.per_device_eval_batch_size=2",
    "trainer.warmup_steps=0",
    "trainer.learning_rate=0.01",
    "trainer.lora.r=4",
    "trainer.lora.dropout=0.0",
]


def adapter(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run_dir / "adapter_model.safetensors")


def test_loss_is_taken_on_assistant_tokens_with_the_models_template(
    settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 2)
    base = make_pretrained(tmp_path / "base")
    from codex_cli.training.config import compose_config
    from codex_cli.training.data import DataConfig, load_split
    from codex_cli.training.lora import load_base, sft_trainer
    from codex_cli.training.trainer import training_arguments

    config = compose_config(
        "train", [*LORA, f"model.path={base}", f"hydra.run.dir={tmp_path / 'r'}"]
    )
    args = training_arguments(config, tmp_path / "r", ["none"])
    assert args.assistant_only_loss and args.max_length == 1024 and not args.bf16
    _, train, _ = load_split(DataConfig.from_dict({"eval_fraction": 0}))
    tokenizer, model = load_base(base, False)
    trainer = sft_trainer(model, tokenizer, args, train, [], {"r": 4}, [])
    row = trainer.train_dataset[0]
    learned = tokenizer.decode([t for t in row["labels"] if t != -100])
    # The assistant's words and its tool call, in Qwen's own <tool_call> form.
    assert "I will" in learned and "Done:" in learned
    assert '<tool_call>\n{"name": "shell", "arguments": {"input": "cat ' in learned
    assert "please" not in learned and "<tool_response>" not in learned
    assert "def main" not in learned and "# Tools" not in learned


def test_lora_trains_resumes_exactly_samples_and_merges(
    cli, cli_process, settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 8)
    base = make_pretrained(tmp_path / "base")
    run = [*LORA, f"model.path={base}", "trainer.max_steps=4"]
    full = cli("train", "hydra.run.dir=runs/full", *run, "--json")
    assert full.exit_code == 0, full.output
    summary = json.loads(full.stdout)
    assert summary["steps"] == 4 and summary["eval_loss"] > 0
    assert {"adapter_model.safetensors", "adapter_config.json"} <= {
        p.name for p in Path("runs/full").iterdir()
    }
    assert not Path("runs/full/model.safetensors").exists()  # an adapter, not a copy

    part = cli("train", "hydra.run.dir=runs/part", *run, "stop_after_steps=2")
    assert part.exit_code == 0, part.output
    resumed = cli_process("train", "--resume=runs/part", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert losses(Path("runs/part")) == losses(Path("runs/full"))
    a, b = adapter(Path("runs/full")), adapter(Path("runs/part"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)

    reply = cli_process("train", "sample", "runs/full", "fix the test", "-n", "4")
    assert reply.returncode == 0 and reply.stderr == "", reply.stderr

    merged = cli("train", "merge", "runs/full", "-o", "runs/merged")
    assert merged.exit_code == 0, merged.output
    import torch
    from transformers import AutoModelForCausalLM

    from codex_cli.training.lora import load_adapter_model

    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained("runs/merged")(ids).logits
        adapted = load_adapter_model(Path("runs/full"))(ids).logits
    assert torch.allclose(plain, adapted, atol=1e-5)
    scored = cli("train", "eval", "runs/full", "--json", "--max-turns", "2", "-n", "8")
    assert scored.exit_code == 0, scored.output
    scores = json.loads(scored.stdout)
    assert scores["base_model"] == str(base)
    assert scores["model"]["tokens"] == scores["base"]["tokens"] > 0
    assert scores["model"]["loss"] != scores["base"]["loss"]
    assert scores["model"]["tool_turns"] == 1  # one held-out session, one call
    again = cli("train", "merge", "runs/full", "-o", "runs/merged")
    assert again.exit_code == 2 and "not empty" in again.output


def test_lora_refuses_what_it_cannot_train(
    cli, settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 4)
    base = make_pretrained(tmp_path / "base")
    tiny = cli("train", "trainer=lora", "tracking=none", "hydra.run.dir=runs/t")
    assert tiny.exit_code == 2 and "use model=local model.path=DIR" in tiny.output
    short = cli(
        "train",
        "hydra.run.dir=runs/s",
        *LORA,
        f"model.path={base}",
        "data.max_length=64",
    )
    assert short.exit_code == 1
    assert "assistant tokens within data.max_length=64" in short.output
    assert not Path("runs/s").exists()
    bad = cli(
        "train",
        "hydra.run.dir=runs/b",
        *LORA,
        f"model.path={base}",
        "+trainer.lora.rank=4",
    )
    assert bad.exit_code == 2 and "trainer.lora.rank: unknown key" in bad.output


def test_full_fine_tuning_of_a_chat_model_goes_through_trl(
    cli, settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 4)
    base = make_pretrained(tmp_path / "base")
    full = [o for o in LORA if not o.startswith(("trainer=", "trainer.lora"))]
    result = cli(
        "train",
        "hydra.run.dir=runs/ft",
        *full,
        f"model.path={base}",
        "trainer.max_steps=2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 2
    assert Path("runs/ft/model.safetensors").exists()  # every weight, no adapter
    assert not Path("runs/ft/adapter_config.json").exists()
