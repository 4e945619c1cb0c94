"""Exporting a bot to run elsewhere: one GGUF file for llama.cpp, Ollama and LM Studio (weights,
tokenizer, context length, sampling defaults, metadata) with an Ollama Modelfile beside it, or a
copy of the bot folder with its weights in bfloat16 or float16.

The GGUF layout follows llama.cpp's converter (tensor names, the order of the rotary halves in
Llama's query and key rows, GPT-2's Conv1D weights stored transposed, the `tokenizer.ggml.*` keys);
the file is written in Python with the `gguf` package, so no compiler and no download."""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bots, paths
from .card import hub_model_id, write_card
from .errors import TweetlingError
from .generate import DEFAULT_PROMPT, GenerateConfig
from .models import DEFAULT_BASE

GGUF_TYPES = ("f16", "q8_0")
# The `gguf` package dequantizes k-quants but cannot write them (no Q4_K or Q6_K quantizer in Python).
_K_QUANT = re.compile(r"^q\d_k(_[sml])?$", re.IGNORECASE)
K_QUANT_HINT = (
    "the gguf package cannot write k-quants such as q4_k_m in Python; export f16 and run llama.cpp's "
    "`llama-quantize BOT-f16.gguf BOT-q4_k_m.gguf Q4_K_M`"
)
DTYPES = ("bfloat16", "float16", "float32")

# (steps done, steps in all): one step per tensor, and one for writing the file.
ExportProgress = Callable[[int, int], None]

# Licences of the bases tweetling is used with; the bot inherits its base's.
_BASE_LICENSES = {DEFAULT_BASE: "apache-2.0", "gpt2": "mit", "openai-community/gpt2": "mit"}
# Weight files that a dtype export rewrites rather than copies.
_WEIGHT_FILES = re.compile(r"^(model.*\.safetensors|model\.safetensors\.index\.json|pytorch_model.*\.bin)$")
# A GGUF file name that an Ollama Modelfile's FROM line takes as it is.
_GGUF_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*\.gguf$")


@dataclass(frozen=True)
class GGUFExport:
    """What `export_gguf` wrote."""

    path: Path
    modelfile: Path
    gguf_type: str
    size: int  # bytes
    tensors: int
    seconds: float
    commands: dict[str, str]  # how to run it: {"Ollama": ..., "llama.cpp": ...}, from its folder


def default_gguf_path(name: str, gguf_type: str) -> Path:
    """Where `tweetling export NAME` writes its GGUF file unless told otherwise."""
    return paths.exports_dir() / paths.checked_name(name, "bot name") / f"{name}-{gguf_type}.gguf"


def default_folder_path(name: str, dtype: str) -> Path:
    return paths.exports_dir() / f"{paths.checked_name(name, 'bot name')}-{dtype}"


# --- GGUF -------------------------------------------------------------------------------------


def export_gguf(
    bot: str | Path,
    out: Path | None = None,
    gguf_type: str = "q8_0",
    on_progress: ExportProgress | None = None,
) -> GGUFExport:
    """Write BOT as one GGUF file of GGUF_TYPE (f16 or q8_0) and an Ollama `Modelfile` beside it.

    OUT is the .gguf file (default: TWEETLING_HOME/exports/<bot>/<bot>-<type>.gguf). The file is
    written beside OUT and renamed into place, so a failed export leaves nothing behind."""
    import gguf

    if _K_QUANT.match(gguf_type):
        raise TweetlingError(K_QUANT_HINT)
    if gguf_type not in GGUF_TYPES:
        raise TweetlingError(f"unknown GGUF type {gguf_type!r}; use one of {', '.join(GGUF_TYPES)}")
    started = time.perf_counter()
    folder = bots.resolve(bot)
    meta = bots.read_metadata(folder)
    name = meta.name
    target = Path(out) if out else default_gguf_path(name, gguf_type)
    if not _GGUF_FILE_NAME.match(target.name):
        raise TweetlingError(
            f"{target}: the GGUF file name must end with .gguf and use only letters, digits and _ . @ + -"
        )
    _check_replaceable_gguf(target)
    model, tokenizer = _load_float32(folder)
    layout = _layout(model.config)
    tensors = layout.tensors(model)
    vocab = _tokenizer_vocab(tokenizer, rows=model.get_input_embeddings().weight.shape[0])
    generate_config = GenerateConfig()
    keep_newlines = meta.keep_newlines
    modelfile_text = render_modelfile(
        target.name, name, tokenizer.eos_token, keep_newlines, generate_config, layout.context_length(model.config)
    )

    writer = gguf.GGUFWriter(path=None, arch=layout.arch)
    _add_general(writer, name, meta, gguf_type, parameters=sum(p.numel() for p in model.parameters()))
    layout.add_hyperparameters(writer, model.config)
    _add_tokenizer(writer, vocab, tokenizer)
    _add_sampling(writer, generate_config)
    total = len(tensors) + 1
    for done, (tensor_name, tensor) in enumerate(tensors, 1):
        array = layout.written_array(tensor_name, tensor.detach().float().numpy(), model.config)
        qtype = _tensor_type(tensor_name, array.shape, gguf_type)
        writer.add_tensor(tensor_name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
        if on_progress:
            on_progress(done, total)
    with paths.atomic_path(target) as tmp:
        writer.write_header_to_file(tmp)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    modelfile = target.with_name("Modelfile")
    paths.write_text_atomic(modelfile, modelfile_text)
    if on_progress:
        on_progress(total, total)
    return GGUFExport(
        path=target,
        modelfile=modelfile,
        gguf_type=gguf_type,
        size=target.stat().st_size,
        tensors=len(tensors),
        seconds=time.perf_counter() - started,
        commands=local_commands(target.name, name, tokenizer.eos_token, keep_newlines),
    )


def _load_float32(folder: Path):
    import torch

    if not any(_WEIGHT_FILES.match(p.name) for p in folder.iterdir()):
        raise TweetlingError(f"{folder}: no model weights to export (a LoRA adapter folder needs merging first)")
    return bots.load_model_folder(folder, torch.float32)


def _tensor_type(name: str, shape: tuple[int, ...], gguf_type: str):
    """llama.cpp's choice for the tensor NAME of SHAPE: norms, biases and position embeddings stay
    float32; the matrices take the file's type, float16 where a row does not split into 32-value
    blocks."""
    from gguf import GGMLQuantizationType as Q

    if len(shape) < 2 or name.endswith("_norm.weight") or name.startswith("position_embd."):
        return Q.F32
    if gguf_type == "q8_0" and shape[-1] % 32 == 0:
        return Q.Q8_0
    return Q.F16


# Bytes per weight of each tensor type the export writes: q8_0 keeps 32 weights in 32 bytes and
# one float16 scale.
_BYTES_PER_WEIGHT = {"Q8_0": 34 / 32, "F16": 2.0, "F32": 4.0}


def gguf_size(folder: Path, gguf_type: str = "q8_0") -> int:
    """About the bytes of FOLDER's GGUF file of GGUF_TYPE, without loading the model: each tensor
    under its GGUF name, in the shape and type the export writes it, plus the vocabulary and
    merges (about their size in tokenizer.json). A TweetlingError says why a bot cannot be
    exported to GGUF."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    layout = _layout(config)
    layout.check(config)
    weights = 0.0
    for hf_name, shape in safetensors_shapes(folder).items():
        if not layout.is_written(config, hf_name):
            continue
        name = layout.gguf_name(hf_name)
        written = layout.written_shape(name, tuple(shape))
        weights += math.prod(written) * _BYTES_PER_WEIGHT[_tensor_type(name, written, gguf_type).name]
    tokenizer = folder / "tokenizer.json"
    return int(weights) + (tokenizer.stat().st_size if tokenizer.is_file() else 0)


def safetensors_shapes(folder: Path) -> dict[str, list[int]]:
    """The name and shape of each tensor in FOLDER's safetensors files, read from their headers
    (no model load)."""
    shapes: dict[str, list[int]] = {}
    for weights in folder.glob("*.safetensors"):
        with weights.open("rb") as file:
            header = json.loads(file.read(int.from_bytes(file.read(8), "little")))
        shapes.update({key: tensor["shape"] for key, tensor in header.items() if key != "__metadata__"})
    return shapes


_FILE_TYPES = {"f16": "MOSTLY_F16", "q8_0": "MOSTLY_Q8_0"}


def _add_general(writer, name: str, meta: bots.BotMeta, gguf_type: str, parameters: int) -> None:
    import gguf

    accounts = meta.accounts or [name]
    handles = ", ".join(f"@{account}" for account in accounts)
    base = meta.base_model or "unknown"
    writer.add_type("model")
    writer.add_name(name)
    writer.add_description(
        f"Machine-generated posts in the style of {handles}: a tweetling bot fine-tuned from {base} on their"
        " public posts. Its output was not written by them; label it as machine-generated."
    )
    writer.add_size_label(gguf.size_label(parameters, 0, 0, 0))
    if license := _BASE_LICENSES.get(base):
        writer.add_license(license)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, base)
    if hub_model_id(base):
        writer.add_base_model_repo_url(0, f"https://huggingface.co/{base}")
    writer.add_tags(["tweetling", "text-generation", "machine-generated"])
    writer.add_languages(list(meta.dataset.options.languages) or ["en"])  # as the model card says
    writer.add_array("tweetling.accounts", accounts)
    writer.add_file_type(getattr(gguf.LlamaFileType, _FILE_TYPES[gguf_type]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_sampling(writer, config: GenerateConfig) -> None:
    """tweetling's sampling as the defaults llama.cpp reads from `general.sampling.*`: nucleus
    sampling alone, none of llama.cpp's own top-k 40, min-p 0.05 or repeat penalty. The keys are
    written by name: gguf releases before 0.18 have no methods for them."""
    writer.add_int32("general.sampling.top_k", 0)
    writer.add_float32("general.sampling.top_p", config.top_p)
    writer.add_float32("general.sampling.min_p", 0.0)
    writer.add_float32("general.sampling.temp", config.temperature)
    writer.add_float32("general.sampling.penalty_repeat", 1.0)


# --- architectures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How one architecture's weights and hyperparameters map onto llama.cpp's names."""

    arch: str
    rules: tuple[tuple[str, str], ...]  # (transformers parameter name pattern, GGUF tensor name template)
    check: Callable[[Any], None]  # (model config) -> None, or a TweetlingError
    add_hyperparameters: Callable[[Any, Any], None]  # (GGUF writer, model config)
    context_length: Callable[[Any], int]  # (model config) -> tokens
    transform: Callable[[str, Any, Any], Any] = lambda name, array, config: array  # (GGUF name, array, config)
    transposed: tuple[str, ...] = ()  # GGUF tensor kinds whose matrices are written transposed

    def tensors(self, model) -> list[tuple[str, Any]]:
        """(GGUF name, weight) for every weight of MODEL that the file holds."""
        self.check(model.config)
        return [
            (self.gguf_name(hf_name), tensor)
            for hf_name, tensor in model.state_dict().items()
            if self.is_written(model.config, hf_name)
        ]

    @staticmethod
    def is_written(config, hf_name: str) -> bool:
        """Whether the file holds the weight HF_NAME: a tied output matrix is written once, as the embedding."""
        return not (getattr(config, "tie_word_embeddings", False) and hf_name == "lm_head.weight")

    def is_transposed(self, name: str, shape: tuple[int, ...]) -> bool:
        """Whether the GGUF tensor NAME of transformers' SHAPE is written transposed."""
        return len(shape) == 2 and name.split(".")[-2] in self.transposed

    def written_shape(self, name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape[::-1] if self.is_transposed(name, shape) else shape

    def written_array(self, name: str, array, config):
        """ARRAY, transformers' weight for the GGUF tensor NAME, as the file holds it."""
        array = self.transform(name, array, config)
        return array.T.copy() if self.is_transposed(name, array.shape) else array

    def gguf_name(self, hf_name: str) -> str:
        for pattern, template in self.rules:
            if match := re.fullmatch(pattern, hf_name):
                return template.format(*match.groups())
        raise TweetlingError(f"cannot export the weight {hf_name!r} of a {self.arch} model to GGUF")


def _layout(config) -> _Layout:
    layouts = {"llama": _LLAMA, "gpt2": _GPT2}
    if config.model_type not in layouts:
        raise TweetlingError(
            f"GGUF export supports Llama-family and GPT-2 bots, not {config.model_type!r}; "
            "export it with --format safetensors instead"
        )
    return layouts[config.model_type]


def _rope_theta(config) -> float:
    parameters = getattr(config, "rope_parameters", None) or {}
    return float(parameters.get("rope_theta") or getattr(config, "rope_theta", None) or 10000.0)


def _check_llama(config) -> None:
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    problems = {
        f"rope scaling {rope_type!r}": rope_type != "default",
        "attention biases": getattr(config, "attention_bias", False),
        "MLP biases": getattr(config, "mlp_bias", False),
        f"activation {config.hidden_act!r}": config.hidden_act != "silu",
        "a head size other than hidden size / heads": _head_dim(config) * config.num_attention_heads
        != config.hidden_size,
    }
    _refuse([problem for problem, present in problems.items() if present], "Llama")


def _check_gpt2(config) -> None:
    problems = {
        f"activation {config.activation_function!r}": config.activation_function
        not in ("gelu_new", "gelu_pytorch_tanh"),  # llama.cpp's GPT-2 uses the tanh approximation
        "attention scaled by layer index": getattr(config, "scale_attn_by_inverse_layer_idx", False),
        "unscaled attention": not getattr(config, "scale_attn_weights", True),
    }
    _refuse([problem for problem, present in problems.items() if present], "GPT-2")


def _refuse(problems: list[str], family: str) -> None:
    if problems:
        raise TweetlingError(
            f"this {family} model has {', '.join(problems)}, which tweetling's GGUF export does not write; "
            "export it with --format safetensors instead"
        )


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _llama_hyperparameters(writer, config) -> None:
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_rope_dimension_count(_head_dim(config))
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_vocab_size(config.vocab_size)


def _interleave_rotary_halves(weight, heads: int):
    """transformers keeps each head's rotary pairs as (first half, second half) of its rows;
    llama.cpp's Llama wants them side by side (0, half, 1, half + 1, ...)."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _llama_transform(name: str, array, config):
    if name.endswith("attn_q.weight"):
        return _interleave_rotary_halves(array, config.num_attention_heads)
    if name.endswith("attn_k.weight"):
        return _interleave_rotary_halves(array, config.num_key_value_heads)
    return array


def _gpt2_hyperparameters(writer, config) -> None:
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_feed_forward_length(config.n_inner or 4 * config.n_embd)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)


_BLOCK = r"\.(\d+)\."
_LLAMA = _Layout(
    arch="llama",
    rules=(
        (r"model\.embed_tokens\.weight", "token_embd.weight"),
        (r"model\.norm\.weight", "output_norm.weight"),
        (r"lm_head\.weight", "output.weight"),
        (rf"model\.layers{_BLOCK}input_layernorm\.weight", "blk.{}.attn_norm.weight"),
        (rf"model\.layers{_BLOCK}self_attn\.q_proj\.weight", "blk.{}.attn_q.weight"),
        (rf"model\.layers{_BLOCK}self_attn\.k_proj\.weight", "blk.{}.attn_k.weight"),
        (rf"model\.layers{_BLOCK}self_attn\.v_proj\.weight", "blk.{}.attn_v.weight"),
        (rf"model\.layers{_BLOCK}self_attn\.o_proj\.weight", "blk.{}.attn_output.weight"),
        (rf"model\.layers{_BLOCK}post_attention_layernorm\.weight", "blk.{}.ffn_norm.weight"),
        (rf"model\.layers{_BLOCK}mlp\.gate_proj\.weight", "blk.{}.ffn_gate.weight"),
        (rf"model\.layers{_BLOCK}mlp\.up_proj\.weight", "blk.{}.ffn_up.weight"),
        (rf"model\.layers{_BLOCK}mlp\.down_proj\.weight", "blk.{}.ffn_down.weight"),
    ),
    check=_check_llama,
    add_hyperparameters=_llama_hyperparameters,
    context_length=lambda config: config.max_position_embeddings,
    transform=_llama_transform,
)
_GPT2 = _Layout(
    arch="gpt2",
    rules=(
        (r"transformer\.wte\.weight", "token_embd.weight"),
        (r"transformer\.wpe\.weight", "position_embd.weight"),
        (r"transformer\.ln_f\.(weight|bias)", "output_norm.{}"),
        (r"lm_head\.weight", "output.weight"),
        (rf"transformer\.h{_BLOCK}ln_1\.(weight|bias)", "blk.{}.attn_norm.{}"),
        (rf"transformer\.h{_BLOCK}attn\.c_attn\.(weight|bias)", "blk.{}.attn_qkv.{}"),
        (rf"transformer\.h{_BLOCK}attn\.c_proj\.(weight|bias)", "blk.{}.attn_output.{}"),
        (rf"transformer\.h{_BLOCK}ln_2\.(weight|bias)", "blk.{}.ffn_norm.{}"),
        (rf"transformer\.h{_BLOCK}mlp\.c_fc\.(weight|bias)", "blk.{}.ffn_up.{}"),
        (rf"transformer\.h{_BLOCK}mlp\.c_proj\.(weight|bias)", "blk.{}.ffn_down.{}"),
    ),
    check=_check_gpt2,
    add_hyperparameters=_gpt2_hyperparameters,
    context_length=lambda config: config.n_positions,
    # GPT-2's Conv1D stores (in, out); llama.cpp, like torch's Linear, wants (out, in).
    transposed=("attn_qkv", "attn_output", "ffn_up", "ffn_down"),
)


# --- tokenizer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocab:
    tokens: list[str]
    types: list[int]  # gguf.TokenType per token
    merges: list[str]
    pre: str  # llama.cpp's name for how text is split before BPE


def _tokenizer_vocab(tokenizer, rows: int) -> _Vocab:
    """The byte-level BPE vocabulary as llama.cpp stores it, one entry per embedding row."""
    from gguf import TokenType

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise TweetlingError(
            f"GGUF export supports byte-level BPE tokenizers (GPT-2, SmolLM2), not a {model.get('type')} one"
        )
    pre = _pre_tokenizer_name(spec)
    tokens: list[str | None] = [None] * rows
    types = [int(TokenType.NORMAL)] * rows
    entries = [(token, index, None) for token, index in model["vocab"].items()]
    entries += [(added["content"], added["id"], added["special"]) for added in spec.get("added_tokens", [])]
    for token, index, special in entries:
        if index >= rows:
            raise TweetlingError(f"the tokenizer's token {token!r} has id {index}, past the model's {rows} embeddings")
        tokens[index] = token
        if special is not None:
            types[index] = int(TokenType.CONTROL if special else TokenType.USER_DEFINED)
    for index, token in enumerate(tokens):
        if token is None:  # embedding rows past the vocabulary (padding to a round size)
            tokens[index] = f"[PAD{index}]"
            types[index] = int(TokenType.UNUSED)
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model.get("merges", [])]
    return _Vocab(tokens=tokens, types=types, merges=merges, pre=pre)  # type: ignore[arg-type]


def _is_gpt2_split(pre_tokenizer: dict | None) -> bool:
    return (
        pre_tokenizer is not None
        and pre_tokenizer.get("type") == "ByteLevel"
        and pre_tokenizer.get("use_regex", True)
        and not pre_tokenizer.get("add_prefix_space", False)
    )


def _pre_tokenizer_name(spec: dict) -> str:
    """llama.cpp's pre-tokenizer that splits text exactly as this tokenizer does: GPT-2's regex
    ("gpt-2"; tweetling's SmolLM2 bots use it too), or single digits first and then GPT-2's ("smollm")."""
    pre = spec.get("pre_tokenizer")
    if spec.get("normalizer") is None:
        if _is_gpt2_split(pre):
            return "gpt-2"
        parts = pre.get("pretokenizers", []) if pre and pre["type"] == "Sequence" else []
        if len(parts) == 2 and parts[0] == {"type": "Digits", "individual_digits": True} and _is_gpt2_split(parts[1]):
            return "smollm"
    raise TweetlingError(
        "GGUF export supports tokenizers that split text as GPT-2 or SmolLM do; this one "
        f"(pre-tokenizer {json.dumps(pre)[:80]}) would tokenize differently in llama.cpp"
    )


def raw_chat_template(eos_token: str) -> str:
    """A template with no chat wrapper: the end-of-text token, then the last message as the start
    of a post, so a chat window (LM Studio, llama-cli) continues it as `tweetling generate` would."""
    return eos_token + "{% if messages %}{{ messages[-1]['content'] }}{% endif %}"


def _add_tokenizer(writer, vocab: _Vocab, tokenizer) -> None:
    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    special_ids = {
        "bos": tokenizer.bos_token_id,
        "eos": tokenizer.eos_token_id,
        "unk": tokenizer.unk_token_id,
        "pad": tokenizer.pad_token_id,
    }
    writer.add_bos_token_id(special_ids["bos"] if special_ids["bos"] is not None else special_ids["eos"])
    writer.add_eos_token_id(special_ids["eos"])
    if special_ids["unk"] is not None:
        writer.add_unk_token_id(special_ids["unk"])
    writer.add_pad_token_id(special_ids["pad"] if special_ids["pad"] is not None else special_ids["eos"])
    # The prompt carries the end-of-text prefix itself (the Modelfile's TEMPLATE, the chat
    # template, or the user), exactly once, as `tweetling generate` builds it.
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(raw_chat_template(tokenizer.eos_token))


# --- Ollama Modelfile ---------------------------------------------------------------------------


def render_modelfile(
    gguf_file: str, name: str, eos_token: str, keep_newlines: bool, config: GenerateConfig, context: int
) -> str:
    """An Ollama Modelfile that samples as `tweetling generate` does."""
    _check_eos_token(eos_token)
    new_tokens = min(config.max_length, context) - 1  # tweetling's limit counts the end-of-text prefix
    ends = "its end-of-text token" + ("" if keep_newlines else " or its first line break")
    lines = [
        f"# Ollama: {local_commands(gguf_file, name, eos_token, keep_newlines)['Ollama']}",
        "# Samples as `tweetling generate` does: the prompt is the start of a post, after the end-of-text token",
        f"# that separated posts in training; top-p {config.top_p:g}, temperature {config.temperature:g}, no top-k,",
        f"# min-p or repeat penalty; at most {new_tokens} new tokens; a post ends at {ends}.",
        f"FROM ./{gguf_file}",
        f'TEMPLATE """{eos_token}{{{{ .Prompt }}}}"""',
        f"PARAMETER temperature {config.temperature:g}",
        f"PARAMETER top_p {config.top_p:g}",
        "PARAMETER top_k 0",
        "PARAMETER min_p 0",
        "PARAMETER repeat_penalty 1",
        f"PARAMETER num_predict {new_tokens}",
        f'PARAMETER stop "{eos_token}"',
    ]
    if not keep_newlines:
        lines.append('PARAMETER stop "\n"')  # a quoted line break: Ollama's parser has no escapes
    return "\n".join(lines) + "\n"


def local_commands(gguf_file: str, name: str, eos_token: str, keep_newlines: bool) -> dict[str, str]:
    """Shell commands, run in the folder of GGUF_FILE and its Modelfile, that write a post starting
    with the default prompt as `tweetling generate` would (the sampling settings are in the file)."""
    _check_eos_token(eos_token)
    if not _GGUF_FILE_NAME.match(gguf_file):
        raise TweetlingError(f"the GGUF file name {gguf_file!r} cannot be written into a shell command")
    stop = "" if keep_newlines else " -r '\\n'"
    model = re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-.") or "bot"  # what Ollama takes as a name
    return {
        "Ollama": f'ollama create {model} -f Modelfile && ollama run {model} "{DEFAULT_PROMPT}"',
        "llama.cpp": f'llama-completion -m {gguf_file} -no-cnv{stop} -p "{eos_token}{DEFAULT_PROMPT}"',
    }


def _check_replaceable_gguf(target: Path) -> None:
    """Refuse to write over anything but a GGUF file at TARGET: it is replaced whole."""
    if target.is_dir():
        raise TweetlingError(f"{target} is a folder: name the .gguf file to write")
    if target.exists():
        with target.open("rb") as file:
            if file.read(4) != b"GGUF":
                raise TweetlingError(f"{target} is not a GGUF file, which writing there would delete: name a new file")


def _check_eos_token(eos_token: str | None) -> None:
    # It goes inside quotes in a Modelfile and a shell command.
    if not eos_token or any(c in eos_token for c in '"{}$`\\\n'):
        raise TweetlingError(f"the end-of-text token {eos_token!r} cannot be written into a Modelfile")


# --- safetensors in a smaller dtype -----------------------------------------------------------------


def export_safetensors(bot: str | Path, out: Path | None = None, dtype: str = "bfloat16") -> Path:
    """Copy BOT to OUT (default: TWEETLING_HOME/exports/<bot>-<dtype>) with its weights in DTYPE;
    bfloat16 and float16 halve the folder. OUT may be the bot's own folder: it is replaced whole."""
    folder = bots.resolve(bot)
    target = Path(out) if out else default_folder_path(bots.read_metadata(folder).name, dtype)
    if not (target.exists() and target.samefile(folder)):
        paths.check_replaceable(target, bots.METADATA_FILE)
    with paths.atomic_folder(target) as tmp:
        write_weights_copy(folder, tmp, dtype)
    write_card(target)  # its list of files and their sizes
    return target


def write_weights_copy(folder: Path, dest: Path, dtype: str) -> None:
    """Fill the empty folder DEST with FOLDER's files and its weights saved in DTYPE."""
    import torch
    from transformers import AutoModelForCausalLM

    check_dtype(dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    model.save_pretrained(dest)  # weights, config.json (recording the dtype), generation_config.json
    copy_files(folder, dest, skip=_WEIGHT_FILES)


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise TweetlingError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")


def copy_files(folder: Path, dest: Path, skip: re.Pattern | None = None) -> None:
    """FOLDER's files that DEST lacks (not hidden ones, not resumable checkpoints), as hard links
    where the file system allows: whatever changes them later replaces them whole (atomic writes)."""
    for item in folder.iterdir():
        if item.name.startswith(".") or item.name == "checkpoints" or (skip and skip.match(item.name)):
            continue
        if (dest / item.name).exists():
            continue
        if item.is_dir():
            shutil.copytree(item, dest / item.name)
            continue
        try:
            (dest / item.name).hardlink_to(item)
        except OSError:
            shutil.copy2(item, dest / item.name)
