"""tweetling.json as one typed class: what is written, and tolerant reading of older and newer files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tiny_bot import read_meta_file
from tweetling.bots import FORMAT_VERSION, METADATA_FILE, Bot, BotMeta, read_metadata, write_metadata
from tweetling.card import write_card
from tweetling.errors import TweetlingError
from tweetling.preview import authors_of
from tweetling.web.render import bot_cards

# A copy of a tweetling.json as the first release wrote it: no format_version, bf16 or processes.
OLD_FILE = Path(__file__).parent / "data" / "tweetling-88a7f7f.json"


def old_bot(folder: Path, model: Path | None = None) -> Path:
    """A bot folder (the model copied from MODEL, if given) whose tweetling.json is the old file."""
    if model:
        shutil.copytree(model, folder)
    else:
        folder.mkdir(parents=True)
    shutil.copy(OLD_FILE, folder / METADATA_FILE)
    return folder


def contains(new: object, old: object) -> bool:
    """Whether NEW holds every key and value of OLD (nested), whatever it adds."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(key in new and contains(new[key], value) for key, value in old.items())
    return new == old


def test_an_old_file_reads_with_defaults_for_the_keys_it_lacks(tmp_path):
    meta = read_metadata(old_bot(tmp_path / "bot"))

    assert meta.name == "tweetling_sample" and meta.accounts == ["tweetling_sample"]
    assert meta.display_name("tweetling_sample") == "Tweetling Sample"
    assert meta.dataset.table["tweetling_sample"].kept == 925 and meta.dataset.options.languages == ()
    assert meta.dataset.hash.startswith("9c4e2b7a") and meta.dataset.train_count == 833
    assert meta.valid_perplexity == 35.03 and meta.recipe["learning_rate"] == 2e-4 and meta.eval
    assert (meta.bf16, meta.processes, meta.format_version) == (False, 1, FORMAT_VERSION)
    assert meta.extra == {} and meta.dataset.extra == {}
    assert BotMeta.from_dict(meta.to_dict()) == meta


def test_rewriting_an_old_file_keeps_every_value_and_adds_the_version(tmp_path):
    folder = old_bot(tmp_path / "bot")
    write_metadata(folder, read_metadata(folder))

    written = read_meta_file(folder)
    assert contains(written, json.loads(OLD_FILE.read_text()))
    assert written["format_version"] == FORMAT_VERSION and written["processes"] == 1
    assert "sweep" not in written  # optional sections appear once there is one


def test_keys_of_a_newer_version_are_kept_or_ignored_without_crashing():
    data = json.loads(OLD_FILE.read_text())
    data.update(format_version=FORMAT_VERSION + 1, mood="sunny")
    data["dataset"]["origin"] = "archive.zip"
    data["dataset"]["options"]["drop_emoji"] = True
    data["dataset"]["table"]["tweetling_sample"]["quoted"] = 4
    data["profiles"]["tweetling_sample"]["pronouns"] = "it"

    meta = BotMeta.from_dict(data)

    assert meta.extra == {"mood": "sunny"} and meta.dataset.extra == {"origin": "archive.zip"}
    assert meta.dataset.table["tweetling_sample"].kept == 925
    assert meta.display_name("tweetling_sample") == "Tweetling Sample"
    again = meta.to_dict()
    assert again["mood"] == "sunny" and again["dataset"]["origin"] == "archive.zip"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, not list"),
        ('{"name": "jack", "profiles": [1]}', "not bot metadata"),
        ('{"name": "jack", "dataset": {"table": {"jack": 3}}}', "not bot metadata"),
    ],
)
def test_a_damaged_file_is_one_error_naming_it(tmp_path, text, problem):
    (tmp_path / METADATA_FILE).write_text(text)
    with pytest.raises(TweetlingError, match=problem) as error:
        read_metadata(tmp_path)
    assert str(tmp_path / METADATA_FILE) in str(error.value)


def test_a_plain_model_folder_is_a_bot_named_after_it(tmp_path):
    meta = read_metadata(tmp_path / "gpt2-mini")
    assert meta.name == "gpt2-mini" and meta.accounts == ["gpt2-mini"]


def test_every_reader_takes_an_old_file(tiny_model, tmp_path):
    folder = old_bot(tmp_path / "old", tiny_model)

    card = write_card(folder).read_text()
    assert "| Posts kept | 925 |" in card and "Tweetling Sample" in card and "| distinct\\_2 | 0.83 |" in card
    bot = Bot.load(folder)
    assert bot.accounts == ["tweetling_sample"] and not bot.keep_newlines
    assert [author.display_name for author in authors_of(folder, bot.meta)] == ["Tweetling Sample"]
    assert "Tweetling Sample (@tweetling_sample)" in bot_cards([bot.meta])


@pytest.mark.parametrize(
    "stale, expected",
    [
        ({"reason": "forgotten", "since": "2025-01-01", "retrain": "tweetling train a"}, "tweetling train a"),
        ({"reason": "forgotten", "since": "2025-01-01", "retrain": 5}, None),
        ("yes", "no mark"),
        (None, "no mark"),
    ],
)
def test_stale_marks_and_provenance_are_read_tolerantly(stale, expected):
    data = {
        "name": "a",
        "stale": stale,
        "dataset": {"provenance": {"a": {"origins": [{"source": "x", "how": "archive", "host": 3}, "junk", {}]}}},
    }
    meta = BotMeta.from_dict(data)
    assert (meta.stale.retrain if meta.stale else "no mark") == expected
    [origin] = meta.dataset.provenance["a"].origins
    assert (origin.source, origin.how, origin.host) == ("x", "archive", None)
    assert BotMeta.from_dict(meta.to_dict()) == meta  # written back as read


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate_weights, r"cannot load this model folder \(.*\): train the bot again"),
        (lambda folder: (folder / "config.json").write_text("{}"), r"cannot load this model folder"),
        (lambda folder: (folder / "config.json").write_text(""), r"cannot load this model folder"),
        (
            lambda folder: (folder / "tokenizer.json").unlink(),
            r"its tokenizer knows \d+ tokens of the model's [\d,]+ \(tokenizer files missing or damaged\)",
        ),
    ],
)
def test_a_damaged_bot_folder_is_one_line_for_generate_and_export(tiny_bot, damage, message):
    from click.testing import CliRunner

    from tweetling.cli import cli

    damage(tiny_bot)
    for args in (["generate", "jack", "-n", "1"], ["export", "jack"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        said = " ".join(result.output.split())
        assert said.startswith(f"error: {tiny_bot}: ") and re.search(message, said), said


def test_listings_skip_folders_of_interrupted_writes_and_metadata_nested_too_deeply(tiny_bot):
    from tweetling.bots import installed
    from tweetling.web.library import list_bots

    root = tiny_bot.parent
    shutil.copytree(tiny_bot, root / ".jack.old")  # what a write killed in the middle leaves
    (root / ".jack.k3j2x").mkdir()
    shutil.copy(tiny_bot / METADATA_FILE, root / ".jack.k3j2x")
    deep = root / "deep"
    deep.mkdir()
    (deep / METADATA_FILE).write_text("[" * 100_000 + "]" * 100_000)

    assert [folder.name for folder, _ in installed()] == ["jack"]
    assert [meta.name for meta in list_bots()] == ["jack"]
    with pytest.raises(TweetlingError) as refused:
        read_metadata(deep)
    assert str(refused.value) == f"{deep / METADATA_FILE}: not valid JSON (nested too deeply)"


def test_a_full_disk_while_saving_the_weights_names_the_bot_folder(tiny_bot, monkeypatch):
    import errno

    from safetensors import SafetensorError

    from tweetling.bots import write_bot

    bot = Bot.load(tiny_bot)

    def full(*args, **kwargs):  # what safetensors says past `ulimit -f`
        raise SafetensorError("Error while serializing: I/O error: File too large (os error 27)")

    monkeypatch.setattr(bot.model, "save_pretrained", full)
    out = tiny_bot.parent / "again"
    with pytest.raises(OSError) as refused:
        write_bot(out, bot.model, bot.tokenizer, bot.meta)
    assert (refused.value.errno, refused.value.filename) == (errno.EFBIG, str(out))
    assert not [path for path in tiny_bot.parent.iterdir() if "again" in path.name]  # no half-written folder


def test_every_file_of_a_written_bot_gets_the_mode_open_would_give(tiny_bot):
    import os
    import stat

    from tweetling.bots import write_bot

    bot = Bot.load(tiny_bot)
    out = tiny_bot.parent / "again"
    write_bot(out, bot.model, bot.tokenizer, bot.meta)
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o666 & ~mask}, modes
