"""A small log to train on, written through the one write path, and tiny-model overrides."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

#: A model small enough that a few steps take well under a second.
TINY = [
    "model.n_layer=1",
    "model.n_embd=32",
    "model.n_head=2",
    "model.vocab_size=320",
    "data.max_length=32",
    "trainer.per_device_train_batch_size=4",
    "trainer.per_device_eval_batch_size=4",
    "trainer.warmup_steps=0",
    "threads=1",
]

TASKS = [
    "fix the failing test",
    "rename the config loader",
    "add a retry to the client",
    "speed up the parser",
    "document the schema",
    "remove the dead code",
]
FILES = ["parser.py", "client.py", "schema.sql", "config.py", "README.md"]


def make_log(
    settings: Settings | None = None,
    sessions: int = 12,
    *,
    seed: int = 0,
    tags: list[str] | None = None,
    prefix: str = "s",
) -> list[str]:
    """``sessions`` agent sessions (user, assistant, tool call and result); their ids."""
    rng = random.Random(seed)
    ids: list[str] = []
    events: list[Event] = []
    for i in range(sessions):
        sid = f"{prefix}{i:03d}"
        task = rng.choice(TASKS)
        path = rng.choice(FILES)
        events += [
            Event(session_id=sid, role="user", content=f"please {task} in {path}"),
            Event(
                session_id=sid,
                role="assistant",
                content=f"I will {task}. First I read {path}.",
                model="m",
            ),
            Event(
                session_id=sid,
                role="assistant",
                kind="tool_call",
                content=f"cat {path}",
                tool_name="shell",
                tool_call_id=f"c{i}",
            ),
            Event(
                session_id=sid,
                role="tool",
                kind="tool_result",
                tool_name="shell",
                tool_call_id=f"c{i}",
                content=f"def main():\n    return {rng.randint(0, 99)}\n",
            ),
            Event(
                session_id=sid,
                role="assistant",
                content=f"Done: I changed {path} to {task}.",
                model="m",
            ),
        ]
        ids.append(sid)
    with SessionLogger(ids[0], settings=settings) as logger:
        logger.write(events)
        for sid in ids if tags else []:
            logger.update_session(sid, tags=tags)
    return ids


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(m["step"], m["loss"]) for m in metrics(run_dir) if "loss" in m]


def make_pretrained(
    directory: Path,
    corpus: list[str] | None = None,
    *,
    vocab_size: int = 400,
    hidden_size: int = 32,
    intermediate_size: int = 64,
    layers: int = 1,
    heads: int = 2,
    kv_heads: int = 1,
    max_positions: int = 1024,
    tie_embeddings: bool = True,
) -> Path:
    """A tiny random Qwen2 model and a BPE tokenizer with Qwen2.5's chat template, on disk.

    Nothing is downloaded: the template is the one TRL ships (trl/chat_templates),
    the tokenizer is trained on a few lines here, the weights are random. The
    sizes default to the tests' model; benchmarks/bench_train.py builds a
    larger one.
    """
    from importlib.resources import files

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
        set_seed,
    )

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    text = corpus or [
        f"please {t} in {f} <tool_call> </tool_call> <tool_response> </tool_response>"
        f' {{"name": "shell", "arguments": {{"input": "cat {f}"}}}}'
        for t in TASKS
        for f in FILES
    ]
    tokenizer.train_from_iterator(
        text,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    fast.chat_template = (files("trl") / "chat_templates" / "qwen2_5.jinja").read_text(
        encoding="utf-8"
    )
    set_seed(0)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(fast),
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            max_position_embeddings=max_positions,
            eos_token_id=fast.eos_token_id,
            pad_token_id=fast.pad_token_id,
            tie_word_embeddings=tie_embeddings,
        )
    )
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory
