"""A byte-level BPE tokenizer trained on the selected sessions (``tiny`` model)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .data import SPECIAL_TOKENS, Conversation, plain_segments


def conversation_texts(conversations: Iterable[Conversation]) -> Iterator[str]:
    for conversation in conversations:
        yield "".join(text for text, _ in plain_segments(conversation.messages))


def train_bpe(conversations: Iterable[Conversation], vocab_size: int) -> Any:
    """Train a byte-level BPE on the plain-template text; a ``PreTrainedTokenizerFast``.

    Every byte is in the initial alphabet, so any text round-trips.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(conversation_texts(conversations), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|pad|>",
        additional_special_tokens=SPECIAL_TOKENS[2:],
    )
