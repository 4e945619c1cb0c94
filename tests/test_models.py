"""Base models: the embedded GGUF default, local folders, Hub ids offline, LoRA targets."""

from __future__ import annotations

import pytest

from tweetling import models
from tweetling.errors import TweetlingError


def test_embedded_gguf_is_found_through_the_installed_package():
    gguf = models.embedded_gguf()
    assert gguf.name == models.GGUF_FILE and gguf.stat().st_size > 50_000_000


def test_local_folder_loads_with_a_pad_token(tiny_model):
    model, tokenizer = models.load_base(str(tiny_model))
    assert model.config.model_type == "gpt2"
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token_id == tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_unreachable_hub_model_names_the_offline_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(
        TweetlingError,
        match=r"cannot load base model 'gpt2' from the Hugging Face Hub "
        r"\(offline\?\); the offline default is 'smollm2-135m'",
    ):
        models.load_base("gpt2")


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(TweetlingError, match="no config.json"):
        models.load_base(str(tmp_path))


def test_lora_targets_by_architecture(tiny_model):
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    assert models.lora_targets(AutoModelForCausalLM.from_pretrained(tiny_model)) == ["c_attn", "c_proj", "c_fc"]
    llama = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    )
    assert "q_proj" in models.lora_targets(llama) and "down_proj" in models.lora_targets(llama)
