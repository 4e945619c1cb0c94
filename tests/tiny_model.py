"""A tiny randomly initialised GPT-2 with a byte-level BPE tokenizer trained here, for fast tests."""

from __future__ import annotations

from pathlib import Path

TEXTS = [
    "My dream is to build a small robot that waters the plants.",
    "Coffee first, then the world. Maybe.",
    "Just shipped a new release of the garden app, with dark mode!",
    "Why do birds sing so loudly at five in the morning?",
    "Reading a book about tides and the moon tonight.",
    "The best ideas arrive on long walks by the river.",
] * 4


def build_tiny_model(folder: Path, vocab_size: int = 300, n_positions: int = 128) -> Path:
    """Write a 2-layer GPT-2 and its tokenizer to FOLDER (a `save_pretrained` folder)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS, vocab_size=vocab_size, min_frequency=1, special_tokens=["<|endoftext|>"])
    # transformers 5 ignores vocab_file/merges_file here (empty vocabulary): pass the trained object.
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(folder)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    import torch

    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build_tiny_llama(folder: Path, *, tied: bool = True, vocab_size: int = 300) -> Path:
    """Write a 2-layer Llama (grouped-query attention: 4 query heads share 2 key/value heads, as
    SmolLM2's 9 share 3) with the same kind of tokenizer to FOLDER."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    build_tiny_model(folder, vocab_size=vocab_size)  # the tokenizer; the GPT-2 weights are replaced below
    for stale in ("model.safetensors", "config.json", "generation_config.json"):
        (folder / stale).unlink()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rope_theta=10000.0,
        tie_word_embeddings=tied,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
