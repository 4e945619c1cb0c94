"""The trained bots on this machine as the page sees them: listed for the pickers and the
gallery, loaded once for writing, and a bot's page (facts, evaluation, download, publishing to
the Hugging Face Hub, deleting it)."""

from __future__ import annotations

import math
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import bots, hub
from ..bots import Bot, BotMeta
from ..errors import TweetlingError
from ..evaluate import EvalConfig, evaluate_bot
from ..export import export_gguf, export_safetensors, gguf_size, safetensors_shapes
from ..pipeline import delete_bot
from ..sources.http import checked_token
from . import handouts, render
from .fields import text

Progress = Callable[..., Any]


def no_progress(*args: Any, **kwargs: Any) -> None:
    """Progress sink for calls made outside a Gradio event (tests, scripts)."""


def list_bots() -> list[BotMeta]:
    """Metadata of every trained bot under TWEETLING_HOME/bots (named after its folder), newest first."""
    # A bot being written or damaged is left out of the gallery, not fatal to it.
    found = [replace(meta, name=folder.name) for folder, meta in bots.installed()]
    return sorted(found, key=lambda meta: meta.created_at or "", reverse=True)


def bot_names() -> list[str]:
    return [meta.name for meta in list_bots()]


def bot_folder(name: str | None) -> Path:
    """The folder of a bot NAME under TWEETLING_HOME/bots: the page never reads other folders."""
    if not name:
        raise TweetlingError("choose a bot first (train one in step 2)")
    folder = bots.default_dir(name)
    if not (folder / "config.json").exists():
        raise TweetlingError(f"no bot named {name!r}; train one in step 2")
    return folder


class BotCache:
    """The last bot loaded stays in memory: repeated generations skip loading the model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._bot: Bot | None = None

    def get(self, name: str | None) -> Bot:
        folder = bot_folder(name)
        meta_file = folder / bots.METADATA_FILE
        key = (folder.resolve(), meta_file.stat().st_mtime_ns if meta_file.exists() else None)
        with self._lock:
            if self._bot is None or key != self._key:
                self._bot, self._key = None, None  # free the old model before loading the next
                self._bot, self._key = Bot.load(folder), key
            return self._bot

    def is_loaded(self, name: str | None) -> bool:
        try:
            folder = bots.default_dir(name or "").resolve()
        except TweetlingError:  # not a bot's name: not loaded
            return False
        with self._lock:
            return self._key is not None and self._key[0] == folder

    def forget(self) -> None:
        with self._lock:
            self._bot, self._key = None, None


BOTS = BotCache()


def gallery(stale: dict[str, str] | None = None) -> str:
    return render.bot_cards(list_bots(), stale)


# --- a bot's page ---------------------------------------------------------------------------------


def bot_page(name: str | None) -> tuple[str, str]:
    """(facts, evaluation) of the bot NAME; a note when no bot is chosen (none left, say)."""
    if not name:
        return "<p class='tl-muted'>No bot chosen: train one in step 2.</p>", ""
    folder = bot_folder(name)
    meta = bots.read_metadata(folder)
    return render.bot_facts(replace(meta, name=folder.name)), render.evaluation(meta.eval)


def evaluate(name: str | None, progress: Progress = no_progress, track_backend: str | None = None) -> str:
    """Measure the bot as `tweetling eval` does; the results are kept in its metadata and card."""
    folder = bot_folder(name)
    progress(None, desc="evaluating: loading the bot")
    result = evaluate_bot(
        folder,
        EvalConfig(),
        track_backend=track_backend,
        on_progress=lambda stage: progress(None, desc=f"evaluating: {stage}"),
    )
    return render.evaluation(result)


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def weight_count(folder: Path) -> int:
    return sum(math.prod(shape) for shape in safetensors_shapes(folder).values())


def other_files_size(folder: Path) -> int:
    """The bytes of FOLDER's files other than its weights (tokenizer, config, card, images)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and path.suffix != ".safetensors")


GGUF_TYPE = "q8_0"  # 8-bit: a quarter of float32, next to no loss of quality


@dataclass(frozen=True)
class DownloadKind:
    """One way to download a bot: what it is for, and its size estimated before packing."""

    label: str  # what the choice says, before its size
    suffix: str  # of the zip's name, after the bot's
    estimate: Callable[[Path], int]  # bytes, before zipping
    pack: Callable[[Path, Path, Progress], Path]  # (bot folder, empty work folder, progress) -> folder to zip


def pack_folder(folder: Path, work: Path, progress: Progress) -> Path:
    return folder


def pack_gguf(folder: Path, work: Path, progress: Progress) -> Path:
    """The bot as a q8_0 GGUF file with its Ollama Modelfile, in a folder of their own."""
    progress(None, desc="loading the bot for the GGUF file")

    def on_progress(done: int, total: int) -> None:
        progress((done, total), desc=f"writing the GGUF file: {done:,} of {total:,} parts")

    export_gguf(folder, work / folder.name / f"{folder.name}-{GGUF_TYPE}.gguf", GGUF_TYPE, on_progress=on_progress)
    return work / folder.name


def pack_bfloat16(folder: Path, work: Path, progress: Progress) -> Path:
    progress(None, desc="saving the weights in bfloat16")
    return export_safetensors(folder, work / folder.name, "bfloat16")


DOWNLOADS = {
    "folder": DownloadKind(
        "The bot folder (transformers loads it)",
        "",
        folder_size,
        pack_folder,
    ),
    "gguf": DownloadKind(
        "One GGUF file, 8-bit, with its Ollama Modelfile (llama.cpp, Ollama, LM Studio)",
        f"-{GGUF_TYPE}",
        lambda folder: gguf_size(folder, GGUF_TYPE),
        pack_gguf,
    ),
    "bfloat16": DownloadKind(
        "The bot folder with bfloat16 weights, half of float32 (transformers loads it)",
        "-bfloat16",
        lambda folder: weight_count(folder) * 2 + other_files_size(folder),
        pack_bfloat16,
    ),
}


def download_formats(name: str | None) -> list[tuple[str, str]]:
    """What the bot can be downloaded as, with the size of each before it is packed."""
    if not name:
        return []
    folder = bot_folder(name)
    return [(f"{kind.label} — {_zipped_size(kind, folder)}", key) for key, kind in DOWNLOADS.items()]


def _zipped_size(kind: DownloadKind, folder: Path) -> str:
    """About how large the download will be, or why this bot cannot be had in that form."""
    try:
        return f"zipped, about {render.size(kind.estimate(folder))}"
    except TweetlingError as error:
        return f"not for this bot: {error}"


def pack_download(name: str | None, kind: str, progress: Progress = no_progress) -> tuple[str, str]:
    """The file to download (a zip of the bot in the form KIND) and the label of its button."""
    folder = bot_folder(name)
    download = DOWNLOADS.get(kind)
    if download is None:
        raise TweetlingError("choose what to download in “Download as”")
    work = handouts.fresh_folder("download")
    packed_folder = download.pack(folder, work / "packed", progress)
    progress(None, desc=f"zipping the download (about {render.size(download.estimate(folder))})")
    packed = Path(shutil.make_archive(str(work / f"{folder.name}{download.suffix}"), "zip", root_dir=packed_folder))
    if packed_folder != folder:
        shutil.rmtree(work / "packed")  # the zip holds it: one copy on disk
    return str(packed), f"Download {packed.name} ({render.size(packed.stat().st_size)})"


def publish(name: str | None, token: str, repo_id: str, private: bool, progress: Progress = no_progress) -> str:
    """Upload the bot with its model card to the Hugging Face Hub as REPO_ID; the link to it.

    The token is used for this upload only: not kept, logged, or shown again. Like the post step,
    the page never falls back to a token of the server's (its HF_TOKEN or `hf auth login`)."""
    folder = bot_folder(name)
    repo_id = text(repo_id)
    if not repo_id:
        raise TweetlingError("enter a “Repository” as owner/name, e.g. your-name/" + folder.name)
    if not text(token):
        raise TweetlingError(
            "paste a token with write access into “Hugging Face token” (huggingface.co/settings/tokens)"
        )
    typed = checked_token(text(token), "“Hugging Face token”")
    progress(None, desc=f"uploading to {repo_id}")
    url = hub.push(folder, repo_id, token=typed, private=bool(private))
    return render.link_message("Published:", url)


def remove(name: str | None) -> str:
    """Delete the bot NAME for good."""
    folder = bot_folder(name)
    if BOTS.is_loaded(folder.name):
        BOTS.forget()
    delete_bot(folder.name)
    return render.message(f"Deleted {folder.name}.", "ok")
