"""Publishing a bot folder to the Hugging Face Hub, with its model card."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .bots import read_metadata, resolve
from .card import write_card
from .errors import TweetlingError
from .export import check_dtype, copy_files, export_gguf, write_weights_copy

IGNORED = ["checkpoints/*", "checkpoints/**", ".*"]  # resumable training state and temporary files stay local


def hub_token(token: str | None = None) -> str:
    """TOKEN, else what huggingface_hub finds: HF_TOKEN, else the token saved by `hf auth login`."""
    from huggingface_hub import get_token

    found = token or get_token()
    if not found:
        raise TweetlingError("no Hugging Face token: run `hf auth login` or set HF_TOKEN")
    return found


def _network_errors() -> tuple[type[Exception], ...]:
    """Connection failures of the HTTP client this huggingface_hub version uses."""
    errors: list[type[Exception]] = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(errors)


def push(
    bot_dir_or_name: Path | str,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    dtype: str | None = None,
    gguf_type: str | None = None,
) -> str:
    """Write the card for REPO_ID, then create the repository (if new) and upload the bot folder,
    with its weights in DTYPE (the local folder is unchanged) and a GGUF file of GGUF_TYPE and its
    Ollama Modelfile when asked; the uploaded card lists the files.

    Returns the repository's URL. The endpoint is HF_ENDPOINT when set (read at call time)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    unreachable: tuple[type[Exception], ...] = (OfflineModeIsEnabled, *_network_errors())
    folder = resolve(bot_dir_or_name)
    stale = read_metadata(folder).stale
    if stale:  # posts it learned from were forgotten: publishing it would spread them again
        retrain = f"; retrain it first: {stale.retrain}" if stale.retrain else ""
        raise TweetlingError(f"{folder.name} is stale and is not published: {stale.reason}{retrain}")
    if dtype:
        check_dtype(dtype)
    write_card(folder, repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    api = HfApi(endpoint=endpoint, token=hub_token(token))
    try:
        with _upload_folder(folder, repo_id, dtype, gguf_type) as upload:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(
                repo_id=repo_id,
                folder_path=upload,
                repo_type="model",
                ignore_patterns=IGNORED,
                commit_message=f"Upload tweetling bot {folder.name}",
            )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise TweetlingError(
                f"the Hub refused the token for {repo_id} (HTTP {status}): log in again "
                "with `hf auth login` or use a token with write access"
            ) from None
        raise TweetlingError(f"the Hub rejected the upload to {repo_id} (HTTP {status})") from None
    except HFValidationError:
        raise TweetlingError(f"invalid Hub repository id {repo_id!r}: expected owner/name") from None
    except unreachable as error:
        raise TweetlingError(
            f"cannot reach {endpoint} ({type(error).__name__}): check the network connection or HF_ENDPOINT"
        ) from None
    return str(url)


@contextmanager
def _upload_folder(folder: Path, repo_id: str, dtype: str | None, gguf_type: str | None) -> Iterator[Path]:
    """FOLDER itself, or a staging copy beside it (hard links; the weights rewritten in DTYPE, the
    GGUF file and Modelfile added, the card redone) that is removed afterwards."""
    if not dtype and not gguf_type:
        yield folder
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.push.", dir=folder.parent))
    try:
        if dtype:
            write_weights_copy(folder, staging, dtype)
        else:
            copy_files(folder, staging)
        if gguf_type:
            export_gguf(folder, staging / f"{read_metadata(folder).name}-{gguf_type}.gguf", gguf_type)
        write_card(staging, repo_id)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
