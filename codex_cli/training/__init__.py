"""Fine-tuning a causal language model on logged sessions (``codex train``).

The Python API the CLI is one client of::

    from codex_cli.training import compose_config, train
    result = train(compose_config("train", ["trainer.max_steps=20"]))

Heavy libraries (torch, transformers, mlflow, hydra) are imported only when
these functions run.
"""

from .config import compose_config, create_run_dir
from .data import select_conversations
from .sample import sample
from .trainer import TrainResult, train

__all__ = [
    "TrainResult",
    "compose_config",
    "create_run_dir",
    "sample",
    "select_conversations",
    "train",
]
