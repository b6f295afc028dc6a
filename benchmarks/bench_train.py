"""``codex train`` throughput vs plain Trainer / TRL scripts, and overhead before the first step.

Both train the ``tiny`` GPT-2 (~1M parameters, sequence 128, batch 8) for the
same number of steps on the same sessions with the same tokenizer, in fresh
processes, alternating, best of ``--repeat``. tokens/s counts the padded
blocks (steps x batch x sequence) over the time spent in ``Trainer.train``.
Overhead before the first step is measured for ``codex train`` from process
launch to the end of step 1, minus one step's time.

LoRA (``model=local trainer=lora``) is compared with a plain TRL script
(``SFTTrainer`` + peft ``LoraConfig``, the same hyperparameters) on the same
random Qwen2 model (built here, nothing downloaded) and the same sessions
(``codex train export-data --format hf``); tokens/s is steps x batch x
max_length over the seconds in ``train()`` for both.

    python benchmarks/bench_train.py [--steps 100] [--lora-steps 30] [--repeat 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

from _timing import machine  # noqa: E402
from datagen import make_events  # noqa: E402
from train_helpers import make_pretrained  # noqa: E402

from codex_cli.settings import Settings  # noqa: E402
from codex_cli.store.writer import SessionLogger  # noqa: E402

# The baseline: what someone would write by hand with Trainer, nothing of ours.
PLAIN_SCRIPT = r"""
import json, sys, time
import torch
from transformers import (GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, Trainer,
                          TrainingArguments, default_data_collator, set_seed)

data, tokenizer_dir, out, steps, threads = sys.argv[1:6]
torch.set_num_threads(int(threads))
tok = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
blocks = []
for line in open(data):
    text = "".join(f"<|{m['role']}|>\n{m['content'] or json.dumps(m.get('tool_calls'))}\n<|end|>\n"
                   for m in json.loads(line)["messages"])
    ids = tok(text)["input_ids"] + [tok.eos_token_id]
    for i in range(0, len(ids), 128):
        chunk = ids[i:i + 128]
        pad = 128 - len(chunk)
        blocks.append({"input_ids": torch.tensor(chunk + [tok.pad_token_id] * pad),
                       "attention_mask": torch.tensor([1] * len(chunk) + [0] * pad),
                       "labels": torch.tensor(chunk + [-100] * pad)})
set_seed(42)
model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=128, n_embd=128, n_layer=4,
                                   n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
args = TrainingArguments(output_dir=out, max_steps=int(steps), per_device_train_batch_size=8,
                         learning_rate=0.002, warmup_steps=10, logging_steps=1, save_steps=50,
                         save_total_limit=2, report_to="none", disable_tqdm=True,
                         dataloader_pin_memory=False, use_cpu=True, seed=42)
trainer = Trainer(model=model, args=args, train_dataset=blocks, data_collator=default_data_collator)
t0 = time.perf_counter()
trainer.train()
seconds = time.perf_counter() - t0
print(json.dumps({"tokens_per_second": int(steps) * 8 * 128 / seconds, "seconds": seconds}))
"""


# The LoRA baseline: TRL and peft as their documentation shows, nothing of ours.
PLAIN_TRL_SCRIPT = r"""
import json, sys, time
import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
from trl import SFTConfig, SFTTrainer

data, base, out, steps, threads, max_length = sys.argv[1:7]
torch.set_num_threads(int(threads))
dataset = load_dataset("json", data_files=data, split="train")
tokenizer = AutoTokenizer.from_pretrained(base)
set_seed(42)
model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
args = SFTConfig(output_dir=out, max_steps=int(steps), per_device_train_batch_size=LORA_BATCH,
                 learning_rate=2e-4, warmup_steps=10, logging_steps=1, save_steps=50,
                 save_total_limit=2, report_to="none", disable_tqdm=True,
                 dataloader_pin_memory=False, use_cpu=True, seed=42,
                 max_length=int(max_length), assistant_only_loss=True,
                 # SFTConfig defaults to bf16 and gradient checkpointing even on CPU;
                 # codex train uses fp32 without checkpointing there: compare like with like.
                 bf16=False, gradient_checkpointing=False)
lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                  task_type="CAUSAL_LM")
trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                     peft_config=lora)
t0 = time.perf_counter()
trainer.train()
seconds = time.perf_counter() - t0
print(json.dumps({"tokens_per_second": int(steps) * LORA_BATCH * int(max_length) / seconds,
                  "seconds": seconds}))
"""
LORA_BATCH = 4
PLAIN_TRL_SCRIPT = PLAIN_TRL_SCRIPT.replace("LORA_BATCH", str(LORA_BATCH))


def make_base_model(directory: Path) -> Path:
    """A random Qwen2 (hidden 128, 2 layers) with Qwen2.5's chat template (shipped by TRL)."""
    corpus = [
        f"word{i} <tool_call> </tool_call> def main(): return {i}" for i in range(500)
    ]
    return make_pretrained(
        directory,
        corpus,
        vocab_size=2048,
        hidden_size=128,
        intermediate_size=256,
        layers=2,
        heads=4,
        kv_heads=2,
        max_positions=2048,
        tie_embeddings=False,
    )


def codex_train(work: Path, env: dict[str, str], overrides: list[str]) -> dict:
    """``codex train OVERRIDES --json`` in a fresh process: its summary."""
    out = subprocess.run(
        [sys.executable, "-m", "codex_cli", "train", *overrides, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    if out.returncode:
        sys.exit(f"codex train failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def plain_script(work: Path, env: dict[str, str], script: str, *args: object) -> dict:
    """A baseline script in a fresh process: the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_codex_lora(
    work: Path,
    env: dict[str, str],
    base: Path,
    name: str,
    steps: int,
    threads: int,
    max_length: int,
) -> dict:
    overrides = [
        f"hydra.run.dir={work / 'runs' / name}",
        "model=local",
        f"model.path={base}",
        "trainer=lora",
        f"trainer.max_steps={steps}",
        f"trainer.per_device_train_batch_size={LORA_BATCH}",
        f"data.max_length={max_length}",
        f"threads={threads}",
        "tracking=none",
    ]
    summary = codex_train(work, env, overrides)
    summary["tokens_per_second"] = steps * LORA_BATCH * max_length / summary["seconds"]
    return summary


def run_plain_trl(
    work: Path,
    env: dict[str, str],
    data: Path,
    base: Path,
    name: str,
    steps: int,
    threads: int,
    max_length: int,
) -> dict:
    return plain_script(
        work,
        env,
        PLAIN_TRL_SCRIPT,
        data,
        base,
        work / "plain" / name,
        steps,
        threads,
        max_length,
    )


def export_data(work: Path, env: dict[str, str], out: Path, *options: str) -> Path:
    """``codex train export-data OPTIONS -o OUT``: the sessions both sides train on."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "codex_cli",
            "train",
            "export-data",
            *options,
            "-o",
            str(out),
        ],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    return out


def make_log(home: Path, events: int) -> Settings:
    settings = Settings(log_dir=home / "sessions", db_path=home / "session_logs.db")
    with SessionLogger("bench", settings=settings) as logger:
        logger.write(make_events(events, per_session=50, chars=300))
    return settings


def run_codex(
    work: Path, env: dict[str, str], name: str, steps: int, threads: int
) -> dict:
    run_dir = work / "runs" / name
    start = time.time()
    overrides = [f"hydra.run.dir={run_dir}", f"trainer.max_steps={steps}"]
    overrides += [f"threads={threads}", "tracking=none"]
    summary = codex_train(work, env, overrides)
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    step_seconds = summary["seconds"] / steps
    summary["overhead"] = first["time"] - start - step_seconds
    summary["run_dir"] = str(run_dir)
    return summary


def run_plain(
    work: Path,
    env: dict[str, str],
    data: Path,
    tokenizer_dir: str,
    name: str,
    steps: int,
    threads: int,
) -> dict:
    return plain_script(
        work,
        env,
        PLAIN_SCRIPT,
        data,
        tokenizer_dir,
        work / "plain" / name,
        steps,
        threads,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--lora-steps", type=int, default=30)
    parser.add_argument(
        "--only", choices=("tiny", "lora", "both"), default="both", help="Which part."
    )
    parser.add_argument("--lora-max-length", type=int, default=1024)
    opts = parser.parse_args()
    print(machine("bench_train"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home = work / ".codex"
        make_log(home, opts.events)
        env = {
            **os.environ,
            "CODEX_SESSION_LOG_DIR": str(home / "sessions"),
            "CODEX_LOG_DB_PATH": str(home / "session_logs.db"),
            "OMP_NUM_THREADS": "1",
            "HF_DATASETS_CACHE": str(work / "hf-cache"),
            "HF_HUB_OFFLINE": "1",
        }
        data = export_data(work, env, work / "train.jsonl")
        if opts.only in ("tiny", "both"):
            tiny_vs_trainer(work, env, data, opts)
        if opts.only in ("lora", "both"):
            lora_vs_trl(work, env, opts)


def tiny_vs_trainer(
    work: Path, env: dict[str, str], data: Path, opts: argparse.Namespace
) -> None:
    codex, plain = [], []
    for i in range(opts.repeat):
        codex.append(run_codex(work, env, f"codex{i}", opts.steps, opts.threads))
        plain.append(
            run_plain(
                work,
                env,
                data,
                codex[0]["run_dir"],
                f"plain{i}",
                opts.steps,
                opts.threads,
            )
        )
    best_codex = max(r["tokens_per_second"] for r in codex)
    best_plain = max(r["tokens_per_second"] for r in plain)
    overhead = min(r["overhead"] for r in codex)
    startup = min(r["startup_seconds"] for r in codex)
    print(
        f"bench_train: tiny GPT-2 ({codex[0]['parameters']:,} parameters), seq 128, batch 8, "
        f"{opts.steps} steps, {opts.threads} thread(s), {codex[0]['train_sessions']} train "
        f"sessions, best of {opts.repeat}"
    )
    print(f"  plain Trainer script   {best_plain:10,.0f} tokens/s")
    print(f"  codex train            {best_codex:10,.0f} tokens/s")
    print(f"  ratio codex/plain      {best_codex / best_plain:10.3f}   (target >= 0.9)")
    print(
        f"  overhead before step 1 {overhead:10.2f} s   (launch to first step: imports, "
        f"config, data, tokenizer, model)"
    )
    print(f"    of which in train()  {startup:10.2f} s")
    for phase, seconds in min(codex, key=lambda r: r["overhead"])["startup"].items():
        print(f"      {phase:<20} {seconds:8.2f} s")


def lora_vs_trl(work: Path, env: dict[str, str], opts: argparse.Namespace) -> None:
    base = make_base_model(work / "base")
    data = export_data(work, env, work / "train-hf.jsonl", "--format", "hf")
    steps, length = opts.lora_steps, opts.lora_max_length
    codex, plain = [], []
    for i in range(opts.repeat):
        codex.append(
            run_codex_lora(work, env, base, f"lora{i}", steps, opts.threads, length)
        )
        plain.append(
            run_plain_trl(work, env, data, base, f"trl{i}", steps, opts.threads, length)
        )
    best_codex = max(r["tokens_per_second"] for r in codex)
    best_plain = max(r["tokens_per_second"] for r in plain)
    print(
        f"bench_train LoRA: random Qwen2 ({codex[0]['parameters']:,} parameters), "
        f"max_length {length}, batch {LORA_BATCH}, {steps} steps, {opts.threads} thread(s), "
        f"r=16 all-linear, best of {opts.repeat}"
    )
    print(f"  plain TRL script       {best_plain:10,.0f} tokens/s")
    print(f"  codex train lora       {best_codex:10,.0f} tokens/s")
    print(f"  ratio codex/plain      {best_codex / best_plain:10.3f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
