"""Publishing to the Hub against loopback servers: no token, offline, refused token, a full push."""

from __future__ import annotations

import json
import re
import socket

import pytest
from click.testing import CliRunner

from fake_hub import FakeHub
from tweetling.card import escape_markdown
from tweetling.cli import cli
from tweetling.errors import TweetlingError
from tweetling.hub import push

TOKEN = "hf_secretsecretsecret"


@pytest.fixture(autouse=True)
def no_saved_token(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # hides any real `hf auth login` token
    monkeypatch.delenv("HF_TOKEN", raising=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_token_is_an_error(tiny_bot):
    with pytest.raises(TweetlingError, match="no Hugging Face token"):
        push(tiny_bot, "me/jack-bot")


def test_a_stale_bot_is_not_published(tiny_bot):
    from dataclasses import replace

    from tweetling import bots

    stale = bots.Stale("it learned from posts of @jack that were forgotten", "2025-01-01", "tweetling train jack")
    bots.write_metadata(tiny_bot, replace(bots.read_metadata(tiny_bot), stale=stale))
    with pytest.raises(TweetlingError, match="jack is stale and is not published: .*retrain it first: tweetling train"):
        push(tiny_bot, "me/jack-bot", token=TOKEN)


def test_unreachable_hub_is_a_one_line_error_without_the_token(tiny_bot, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TweetlingError, match="cannot reach http://127.0.0.1") as error:
        push(tiny_bot, "me/jack-bot", token=TOKEN)
    assert TOKEN not in str(error.value) and "\n" not in str(error.value)


def test_refused_token_is_reported_without_the_token(tiny_bot, monkeypatch, httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json({"error": "Invalid credentials"}, status=401)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["push", "jack", "me/jack-bot"])
    assert result.exit_code == 1
    assert "refused the token" in result.stderr and "HTTP 401" in result.stderr
    assert TOKEN not in result.output


def test_push_uploads_the_folder_with_its_card(tiny_bot, monkeypatch, httpserver):
    hub = FakeHub(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    (tiny_bot / "checkpoints").mkdir()
    (tiny_bot / "checkpoints" / "last.pt").write_bytes(b"state")
    url = push(tiny_bot, "me/jack-bot", token=TOKEN)
    assert url.endswith("/me/jack-bot")
    assert hub.auth - {""} == {f"Bearer {TOKEN}"}
    [commit] = hub.commits
    uploaded = {op["value"]["path"] for op in commit if op["key"] == "file"}
    assert {"README.md", "config.json", "model.safetensors", "tweetling.json"} <= uploaded
    assert not any(path.startswith("checkpoints") for path in uploaded)
    assert "model='me/jack-bot'" in (tiny_bot / "README.md").read_text()


def test_push_can_ship_bfloat16_weights_and_a_gguf_file_listed_in_the_card(tiny_bot, monkeypatch, httpserver):
    import base64

    hub = FakeHub(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    local = {path.name: path.stat().st_size for path in tiny_bot.iterdir()}
    result = CliRunner().invoke(cli, ["push", "jack", "me/jack-bot", "--dtype", "bfloat16", "--gguf", "q8_0"])
    assert result.exit_code == 0, result.output
    [commit] = hub.commits
    files = {op["value"]["path"]: base64.b64decode(op["value"]["content"]) for op in commit if op["key"] == "file"}
    assert {"model.safetensors", "jack-q8_0.gguf", "Modelfile", "README.md", "tweetling.json"} <= set(files)
    assert files["jack-q8_0.gguf"][:4] == b"GGUF" and b"FROM ./jack-q8_0.gguf" in files["Modelfile"]
    header = json.loads(files["model.safetensors"][8 : 8 + int.from_bytes(files["model.safetensors"][:8], "little")])
    assert {entry["dtype"] for name, entry in header.items() if name != "__metadata__"} == {"BF16"}
    card = files["README.md"].decode()
    assert f"| {escape_markdown('jack-q8_0.gguf')} |" in card and "| Modelfile |" in card
    assert "the weights (bfloat16)" in card and "| README\\.md |  | this card |" in card
    assert "ollama create jack -f Modelfile" in card and "model='me/jack-bot'" in card
    # The local bot is as it was, and the staging copy is gone.
    assert {path.name: path.stat().st_size for path in tiny_bot.iterdir() if path.name != "README.md"} == {
        name: size for name, size in local.items() if name != "README.md"
    }
    assert not [path.name for path in tiny_bot.parent.iterdir() if path.name.startswith(".")]
