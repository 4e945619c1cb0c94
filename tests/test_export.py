"""Export: GGUF files read back by an independent reader (transformers' GGUF loader), the Ollama
Modelfile, smaller safetensors folders, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SHARED_TWEETS
from tiny_bot import build_tiny_bot
from tiny_model import TEXTS, build_tiny_llama, build_tiny_model
from tweetling import bots
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.export import export_gguf, gguf_size

# Posts as people write them: emoji (with skin tones and ZWJ sequences), non-Latin scripts,
# digits, punctuation, URLs, mentions, repeated spaces and line breaks.
POSTS = [
    "My dream is to build a small robot that waters the plants 🌱🤖",
    "Just shipped v2.0.1 of the garden app — dark mode, 3x faster, 100% more 🐛 fixes!",
    "東京で桜を見ました。とてもきれいでした 🌸",
    "Привет, мир! Сегодня отличный день для прогулки по набережной.",
    "مرحبا بالعالم، القهوة أولاً ثم كل شيء آخر",
    "नमस्ते दुनिया! आज मौसम बहुत अच्छा है।",
    "Family day 👨‍👩‍👧‍👦 and a 👍🏽 from everyone @jack #weekend https://example.com/a?b=1",
    "Why do birds sing so loudly at 5:00 in the morning??  Two  spaces.\nAnd a second line.",
    "中文测试：我们今天去公园散步，然后喝了一杯咖啡。",
    "Ελληνικά και עברית και ქართული in one post",
]
PROMPTS = ["My dream is", "Coffee first, then", "Just shipped a new", "Why do birds", "Reading a book"]

FAMILIES = ["gpt2", "llama", "llama-untied"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models compute no faster on two threads, and on a busy machine torch's spinning
    worker threads make them many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def memorize(folder: Path, steps: int = 100, learning_rate: float = 5e-3) -> Path:
    """Train the model in FOLDER on the tiny model's posts until it has learned them by heart, so
    that its next-token choices are clear-cut rather than the near-ties of random weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    eos = tokenizer.eos_token_id
    rows = [[eos, *tokenizer(text, add_special_tokens=False)["input_ids"], eos] for text in dict.fromkeys(TEXTS)]
    width = max(map(len, rows))
    input_ids = torch.tensor([row + [eos] * (width - len(row)) for row in rows])
    labels = torch.tensor([row + [-100] * (width - len(row)) for row in rows])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    for _ in range(steps):
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Bot folders (with tweetling.json and a dataset) of tiny GPT-2 and Llama models that know
    their posts by heart.

    The GPT-2 keeps GPT-2's 1024 positions: transformers' GGUF reader takes the context length
    as `n_ctx`, so a GPT-2 with another `n_positions` does not read back (real GPT-2 has 1024)."""
    root = tmp_path_factory.mktemp("export-bots")
    bases = {
        "gpt2": build_tiny_model(root / "base-gpt2", n_positions=1024),
        "llama": build_tiny_llama(root / "base-llama"),
        "llama-untied": build_tiny_llama(root / "base-llama-untied", tied=False),
    }
    return {family: build_tiny_bot(memorize(base), root / family) for family, base in bases.items()}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Each trained bot exported at each GGUF type, in its own folder."""
    root = tmp_path_factory.mktemp("export-gguf")
    return {
        (family, gguf_type): export_gguf(
            folder, root / f"{family}-{gguf_type}" / f"jack-{gguf_type}.gguf", gguf_type
        ).path
        for family, folder in trained.items()
        for gguf_type in ("f16", "q8_0")
    }


def load_float32(folder: Path, gguf_file: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs).eval()
    return model, AutoTokenizer.from_pretrained(folder, **kwargs)


def load_gguf(path: Path):
    return load_float32(path.parent, path.name)


def next_token_logits(model, tokenizer, prompts: list[str]):
    """The logits after EOS + each prompt, as `tweetling generate` frames it (one row per prompt)."""
    import torch

    rows = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = [tokenizer.eos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]
            rows.append(model(torch.tensor([ids])).logits[0, -1])
    return torch.stack(rows)


def rounded_to_float16(model):
    """MODEL with the weights an f16 GGUF stores in float16 rounded to it (norms, biases and
    position embeddings stay float32 there)."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim >= 2 and "wpe" not in name:
                parameter.copy_(parameter.half().float())
    return model


def greedy(model, tokenizer, prompt: str, tokens: int = 16) -> list[int]:
    """The most likely continuation of EOS + PROMPT, token by token, up to its EOS."""
    import torch

    ids = [tokenizer.eos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]
    new: list[int] = []
    with torch.inference_mode():
        while len(new) < tokens and tokenizer.eos_token_id not in new:
            new.append(int(model(torch.tensor([ids + new])).logits[0, -1].argmax()))
    return new


@pytest.mark.parametrize("family", FAMILIES)
def test_f16_reads_back_with_the_original_logits_and_greedy_text(family, trained, exported):
    import torch

    original, tokenizer = load_float32(trained[family])
    gguf_model, gguf_tokenizer = load_gguf(exported[family, "f16"])
    assert type(gguf_model) is type(original)

    expected = next_token_logits(original, tokenizer, PROMPTS)
    got = next_token_logits(gguf_model, gguf_tokenizer, PROMPTS)
    # Against the original with its matrices rounded to float16: the same numbers, so the names,
    # the Llama rotary permutation and GPT-2's transposes all came back exactly.
    torch.testing.assert_close(got, next_token_logits(rounded_to_float16(original), tokenizer, PROMPTS))
    # Against the float32 original: within float16's rounding of the weights.
    scale = expected.abs().max()
    assert (got - expected).abs().max() <= 2e-3 * scale
    assert torch.equal(got.argmax(-1), expected.argmax(-1))

    original, _ = load_float32(trained[family])
    for prompt in PROMPTS:
        assert greedy(gguf_model, gguf_tokenizer, prompt) == greedy(original, tokenizer, prompt)


@pytest.mark.parametrize("family", FAMILIES)
def test_q8_0_reads_back_within_tolerance(family, trained, exported):
    """Q8_0 stores each block of 32 weights as 8-bit integers and a float16 scale. Stated
    tolerance: next-token distributions within 0.01 nats (KL) of the original's and logits within
    5% of their largest magnitude, on prompts and real posts; the same most likely next token."""
    import torch

    original, tokenizer = load_float32(trained[family])
    gguf_model, gguf_tokenizer = load_gguf(exported[family, "q8_0"])
    expected = next_token_logits(original, tokenizer, PROMPTS + POSTS)
    got = next_token_logits(gguf_model, gguf_tokenizer, PROMPTS + POSTS)
    kl = torch.nn.functional.kl_div(got.log_softmax(-1), expected.log_softmax(-1), log_target=True, reduction="none")
    assert kl.sum(-1).max() < 0.01
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()
    # On the prompts it was trained for (elsewhere a tiny model's top tokens are near-ties).
    assert torch.equal(got[: len(PROMPTS)].argmax(-1), expected[: len(PROMPTS)].argmax(-1))


def assert_same_tokens(tokenizer, gguf_tokenizer, texts: list[str]) -> None:
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert gguf_tokenizer(text, add_special_tokens=False)["input_ids"] == ids, text
        assert gguf_tokenizer.decode(ids) == tokenizer.decode(ids) == text


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_tokenizer_round_trip_keeps_the_ids_of_real_posts(family, trained, exported):
    _, tokenizer = load_float32(trained[family])
    _, gguf_tokenizer = load_gguf(exported[family, "f16"])
    assert_same_tokens(tokenizer, gguf_tokenizer, [*POSTS, tokenizer.eos_token + "My dream is"])
    assert gguf_tokenizer.eos_token == tokenizer.eos_token == "<|endoftext|>"
    assert gguf_tokenizer.eos_token_id == tokenizer.eos_token_id
    # The chat template of a chat window (LM Studio) frames the message as tweetling frames a prompt.
    chat = gguf_tokenizer.apply_chat_template([{"role": "user", "content": "My dream is"}], tokenize=False)
    assert chat == "<|endoftext|>My dream is"


def real_posts(shared_tweets: Path, per_file: int = 40) -> list[str]:
    """Posts from the real tweet files, their text cleaned as `prepare` would leave it."""
    import csv

    posts = []
    for path in sorted(shared_tweets.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            texts = [row.get("text") or row.get("tweet") or "" for row in csv.DictReader(handle)]
        posts += [t for t in texts if t.strip()][:per_file]
    return posts


def test_tokenizer_round_trip_on_real_tweets(trained, exported, shared_tweets):
    _, tokenizer = load_float32(trained["llama"])
    _, gguf_tokenizer = load_gguf(exported["llama", "f16"])
    posts = real_posts(shared_tweets)
    assert len(posts) > 100
    assert_same_tokens(tokenizer, gguf_tokenizer, posts)


@pytest.mark.slow
def test_smollm2_tokenizer_round_trip(tmp_path):
    """The real SmolLM2 tokenizer (49,152 tokens, as tweetling's SmolLM2 bots carry it) on a
    1-layer Llama: the same ids after the GGUF round trip, digits and all."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tweetling.models import POST_BOUNDARY, embedded_gguf

    source = embedded_gguf()
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    tokenizer.eos_token = tokenizer.bos_token = tokenizer.pad_token = POST_BOUNDARY
    tokenizer.save_pretrained(tmp_path / "bot")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path / "bot")
    path = export_gguf(tmp_path / "bot", tmp_path / "out" / "bot-f16.gguf", "f16").path
    _, gguf_tokenizer = load_gguf(path)
    texts = [*POSTS, "In 2024 I ate 12345 apples, 3.14 pies and 0.5 cakes 🍎"]
    if SHARED_TWEETS.exists():
        texts += real_posts(SHARED_TWEETS)
    assert_same_tokens(AutoTokenizer.from_pretrained(tmp_path / "bot"), gguf_tokenizer, texts)


def gguf_fields(path: Path) -> dict:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = {}
    for name, field in reader.fields.items():
        if name in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"):
            fields[name] = len(field.data)
            continue
        fields[name] = field.contents()
    fields["tensors"] = {tensor.name: tensor.tensor_type.name for tensor in reader.tensors}
    return fields


@pytest.mark.parametrize(
    ("family", "gguf_type", "matrix_type"),
    [("gpt2", "f16", "F16"), ("gpt2", "q8_0", "Q8_0"), ("llama", "q8_0", "Q8_0"), ("llama-untied", "f16", "F16")],
)
def test_gguf_metadata(family, gguf_type, matrix_type, trained, exported):
    fields = gguf_fields(exported[family, gguf_type])
    arch = "gpt2" if family == "gpt2" else "llama"
    assert fields["general.architecture"] == arch and fields["general.type"] == "model"
    assert fields["general.name"] == "jack" and fields["tweetling.accounts"] == ["jack"]
    description = fields["general.description"]
    assert "Machine-generated posts in the style of @jack" in description and "not written by them" in description
    assert fields["general.languages"] == ["en"] and "machine-generated" in fields["general.tags"]
    assert fields["general.base_model.0.name"] == "tiny-gpt2" and "general.license" not in fields
    assert fields[f"{arch}.context_length"] == (1024 if family == "gpt2" else 128)
    # The tokenizer: every embedding row, the merges, the special tokens; no BOS or EOS added.
    assert fields["tokenizer.ggml.model"] == "gpt2" and fields["tokenizer.ggml.pre"] == "gpt-2"
    assert fields["tokenizer.ggml.tokens"] == fields["tokenizer.ggml.token_type"] == 300
    assert fields["tokenizer.ggml.merges"] > 0
    assert fields["tokenizer.ggml.eos_token_id"] == fields["tokenizer.ggml.bos_token_id"] == 0
    assert fields["tokenizer.ggml.add_bos_token"] is False and fields["tokenizer.ggml.add_eos_token"] is False
    # tweetling's sampling as llama.cpp's defaults.
    assert fields["general.sampling.top_p"] == pytest.approx(0.95) and fields["general.sampling.temp"] == 1.0
    assert fields["general.sampling.top_k"] == 0 and fields["general.sampling.min_p"] == 0.0
    tensors = fields["tensors"]
    assert tensors["token_embd.weight"] == matrix_type and tensors["blk.0.ffn_down.weight"] == matrix_type
    assert tensors["output_norm.weight"] == "F32" and tensors["blk.1.attn_norm.weight"] == "F32"
    assert ("output.weight" in tensors) == (family == "llama-untied")  # a tied output matrix is written once
    if family == "gpt2":
        assert tensors["position_embd.weight"] == "F32" and tensors["blk.0.attn_qkv.bias"] == "F32"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("gguf_type", ["f16", "q8_0"])
def test_size_estimate_is_close_to_the_file(family, gguf_type, trained, exported):
    """Read from the headers only, without loading the model: the web's download list shows it.
    The tiny GPT-2's float32 position embeddings are a large share of its file."""
    estimate = gguf_size(trained[family], gguf_type)
    assert 0.9 < estimate / exported[family, gguf_type].stat().st_size < 1.1


def test_license_comes_from_the_base(tiny_bot, tmp_path):
    meta = bots.read_metadata(tiny_bot)
    bots.write_metadata(tiny_bot, dataclasses.replace(meta, base_model="openai-community/gpt2"))
    fields = gguf_fields(export_gguf(tiny_bot, tmp_path / "jack.gguf", "f16").path)
    assert fields["general.license"] == "mit"
    assert fields["general.base_model.0.repo_url"] == "https://huggingface.co/openai-community/gpt2"


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, value) pairs as Ollama's parser reads them: a value is the rest of the line, or
    a quoted string (in "..." or \"\"\"...\"\"\") that may span lines, taken without escapes."""
    commands = []
    for match in re.finditer(r'^(\w+)(?: (\w+))? ("""(?s:.*?)"""|"(?s:.*?)"|[^\n]*)$', text, re.MULTILINE):
        command, parameter, value = match.groups()
        if command.startswith("#") or not command.isupper():
            continue
        value = value[3:-3] if value.startswith('"""') else value[1:-1] if value.startswith('"') else value
        commands.append((f"{command} {parameter}" if command == "PARAMETER" else command, value))
    return commands


@pytest.mark.parametrize("keep_newlines", [False, True])
def test_modelfile_reproduces_tweetlings_sampling(tiny_model, tweetling_home, keep_newlines):
    from tiny_bot import build_tiny_bot

    bot = build_tiny_bot(tiny_model, tweetling_home / "bots" / "jack", keep_newlines=keep_newlines)
    result = export_gguf(bot, gguf_type="f16")
    assert result.path == tweetling_home / "exports" / "jack" / "jack-f16.gguf"
    assert result.modelfile == result.path.with_name("Modelfile")
    commands = parse_modelfile(result.modelfile.read_text())
    assert commands[0] == ("FROM", "./jack-f16.gguf")
    assert ("TEMPLATE", "<|endoftext|>{{ .Prompt }}") in commands  # the EOS prefix, no chat wrapper
    settings = {name: value for name, value in commands if name.startswith("PARAMETER") and "stop" not in name}
    assert settings == {
        "PARAMETER temperature": "1",
        "PARAMETER top_p": "0.95",
        "PARAMETER top_k": "0",
        "PARAMETER min_p": "0",
        "PARAMETER repeat_penalty": "1",
        "PARAMETER num_predict": "127",  # 160 tokens with the prefix, capped by the 128-token context
    }
    stops = [value for name, value in commands if name == "PARAMETER stop"]
    assert stops == (["<|endoftext|>"] if keep_newlines else ["<|endoftext|>", "\n"])
    assert ("-r '\\n'" in result.commands["llama.cpp"]) is not keep_newlines
    assert result.commands["Ollama"].startswith("ollama create jack -f Modelfile")


def test_a_failed_export_leaves_nothing_behind(tiny_bot, tmp_path, monkeypatch):
    import gguf

    calls = []

    def fail_on_the_fifth(data, qtype):
        calls.append(qtype)
        if len(calls) == 5:
            raise MemoryError("out of memory")
        return original(data, qtype)

    original = gguf.quants.quantize
    monkeypatch.setattr(gguf.quants, "quantize", fail_on_the_fifth)
    with pytest.raises(MemoryError):
        export_gguf(tiny_bot, tmp_path / "out" / "jack.gguf")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unsupported_models_and_tokenizers_are_refused_in_one_line(tiny_bot, tmp_path):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    neox = tmp_path / "neox"
    GPTNeoXForCausalLM(
        GPTNeoXConfig(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(neox)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (neox / name).write_bytes((tiny_bot / name).read_bytes())
    with pytest.raises(TweetlingError, match="supports Llama-family and GPT-2 bots, not 'gpt_neox'"):
        export_gguf(neox, tmp_path / "neox.gguf")

    settings = json.loads((tiny_bot / "tokenizer_config.json").read_text())
    (tiny_bot / "tokenizer_config.json").write_text(json.dumps({**settings, "add_prefix_space": True}))
    with pytest.raises(TweetlingError, match="would tokenize differently in llama.cpp") as error:
        export_gguf(tiny_bot, tmp_path / "jack.gguf")
    assert "\n" not in str(error.value) and not (tmp_path / "jack.gguf").exists()


def test_smollm_style_digit_splitting_is_named_for_llama_cpp(tiny_bot, tmp_path):
    """SmolLM2's own tokenizer splits digits first (tweetling's SmolLM2 bots, built from its GGUF
    by transformers, do not); a bot with it gets llama.cpp's matching "smollm" split."""
    spec = json.loads((tiny_bot / "tokenizer.json").read_text())
    spec["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [{"type": "Digits", "individual_digits": True}, spec["pre_tokenizer"]],
    }
    (tiny_bot / "tokenizer.json").write_text(json.dumps(spec))
    settings = json.loads((tiny_bot / "tokenizer_config.json").read_text())  # tokenizer.json as it is
    (tiny_bot / "tokenizer_config.json").write_text(json.dumps({**settings, "tokenizer_class": "TokenizersBackend"}))
    fields = gguf_fields(export_gguf(tiny_bot, tmp_path / "jack.gguf").path)
    assert fields["tokenizer.ggml.pre"] == "smollm"


def test_cli_exports_gguf_with_progress_and_commands(tiny_bot, tweetling_home):
    result = CliRunner().invoke(cli, ["export", "jack"])
    assert result.exit_code == 0, result.output
    path = tweetling_home / "exports" / "jack" / "jack-q8_0.gguf"
    assert path.exists() and (path.parent / "Modelfile").exists()
    assert "ollama create jack -f Modelfile" in result.output and "llama-completion -m jack-q8_0.gguf" in result.output
    assert gguf_fields(path)["tensors"]["token_embd.weight"] == "Q8_0"

    result = CliRunner().invoke(cli, ["export", "jack", "--type", "f16", "--out", str(tweetling_home / "x.bin")])
    assert result.exit_code == 1 and "must end with .gguf" in result.stderr
    result = CliRunner().invoke(cli, ["export", "jack", "--dtype", "bfloat16"])
    assert result.exit_code == 2 and "--dtype applies to --format safetensors" in result.output
    with pytest.raises(TweetlingError, match="cannot write k-quants such as q4_k_m.*llama-quantize"):
        export_gguf(tiny_bot, gguf_type="q4_k_m")
    result = CliRunner().invoke(cli, ["export", "nobody"])
    assert result.exit_code == 1 and "no bot named 'nobody'" in result.stderr


def test_export_refuses_to_write_over_what_it_did_not_write(tiny_bot, tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("years of work")
    (tmp_path / "notes.gguf").write_text("not weights")
    for args in (
        ["--format", "safetensors", "--out", str(tmp_path / "precious")],
        ["--out", str(tmp_path / "notes.gguf")],
        ["--out", str(tmp_path / "precious")],
    ):
        result = CliRunner().invoke(cli, ["export", "jack", *args])
        assert result.exit_code == 1, result.output
        assert re.search(r"holds files tweetling did not write|is not a GGUF file|must end with \.gguf", result.stderr)
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "years of work"
    assert (tmp_path / "notes.gguf").read_text() == "not weights"
    # An earlier export is replaced, and a bot may be exported into its own folder.
    for out in (tmp_path / "small", tmp_path / "small", tiny_bot):
        result = CliRunner().invoke(cli, ["export", "jack", "--format", "safetensors", "--out", str(out)])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", "jack", "--type", "f16", "--out", str(tmp_path / "jack.gguf")])
    assert result.exit_code == 0 and (tmp_path / "jack.gguf").read_bytes()[:4] == b"GGUF"
    result = CliRunner().invoke(cli, ["export", "jack", "--type", "f16", "--out", str(tmp_path / "jack.gguf")])
    assert result.exit_code == 0, result.output


def test_bfloat16_folder_is_half_the_size_and_still_loads_in_a_pipeline(trained, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import pipeline

    bot = trained["llama"]
    result = CliRunner().invoke(
        cli, ["export", str(bot), "--format", "safetensors", "--dtype", "bfloat16", "--out", str(tmp_path / "bf16")]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "bf16"
    ratio = (folder / "model.safetensors").stat().st_size / (bot / "model.safetensors").stat().st_size
    assert 0.45 < ratio < 0.55
    assert {tensor.dtype for tensor in load_file(folder / "model.safetensors").values()} == {torch.bfloat16}
    assert bots.read_metadata(folder) == bots.read_metadata(bot)
    assert "the weights (bfloat16)" in (folder / "README.md").read_text()

    generator = pipeline("text-generation", model=str(folder))
    assert generator.model.dtype == torch.bfloat16
    [output] = generator("My dream is", max_new_tokens=8, do_sample=False)
    assert output["generated_text"].startswith("My dream is")


def test_train_can_save_bfloat16(tiny_model, tweetling_home):
    import torch
    from safetensors.torch import load_file

    from tweetling.bots import Bot
    from tweetling.posts import Post
    from tweetling.store import Store

    with Store() as store:
        store.upsert_posts(
            Post("file", f"ann{i}", "ann", f"{text} number {i}", "original", None, None, None)
            for i, text in enumerate(TEXTS * 6)
        )
    args = ["train", "ann", "--base", str(tiny_model), "--epochs", "1", "--track", "none", "--dtype", "bfloat16"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    folder = tweetling_home / "bots" / "ann"
    assert {tensor.dtype for tensor in load_file(folder / "model.safetensors").values()} == {torch.bfloat16}
    assert "the weights (bfloat16)" in (folder / "README.md").read_text()
    assert Bot.load(folder).generate("My dream is", n=2, seed=0).sampled == 2


LLAMA_CPP = Path(os.environ.get("TWEETLING_LLAMA_CPP", "/nonexistent"))


@pytest.mark.skipif(
    not (LLAMA_CPP / "llama-simple").exists(),
    reason="set TWEETLING_LLAMA_CPP to a folder with llama.cpp's llama-simple and llama-tokenize",
)
@pytest.mark.parametrize(("family", "gguf_type"), [("gpt2", "f16"), ("llama", "f16"), ("llama", "q8_0")])
def test_llama_cpp_writes_the_same_greedy_text_and_tokens(family, gguf_type, trained, exported):
    """llama.cpp itself (not transformers) reads the file: the same token ids for real posts, and
    the same greedy continuation as the original model."""
    import subprocess

    original, tokenizer = load_float32(trained[family])
    path = exported[family, gguf_type]
    for text in POSTS:
        run = subprocess.run(
            [LLAMA_CPP / "llama-tokenize", "-m", path, "--ids", "--no-bos", "--log-disable", "-p", text],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(run.stdout) == tokenizer(text, add_special_tokens=False)["input_ids"], text
    for prompt in PROMPTS:
        expected = tokenizer.decode(greedy(original, tokenizer, prompt), skip_special_tokens=True)
        # llama-simple: greedy, printed as it goes (llama-completion's output can be cut off in a pipe).
        prefix = f"{tokenizer.eos_token}{prompt}"
        run = subprocess.run(
            [LLAMA_CPP / "llama-simple", "-m", path, "-n", "16", prefix], capture_output=True, text=True, check=True
        )
        assert run.stdout.removeprefix(prefix).removesuffix("\n") == expected, prompt  # it ends with a newline
