"""Publishing a bot folder to the Hugging Face Hub, with its model card."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from .bots import read_metadata, resolve
from .card import write_card
from .errors import TweetlingError

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


def push(bot_dir_or_name: Path | str, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Write the card for REPO_ID, then create the repository (if new) and upload the bot folder.

    Returns the repository's URL. The endpoint is HF_ENDPOINT when set (read at call time)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    unreachable: tuple[type[Exception], ...] = (OfflineModeIsEnabled, *_network_errors())
    folder = resolve(bot_dir_or_name)
    stale = read_metadata(folder).stale
    if stale:  # posts it learned from were forgotten: publishing it would spread them again
        retrain = f"; retrain it first: {stale.retrain}" if stale.retrain else ""
        raise TweetlingError(f"{folder.name} is stale and is not published: {stale.reason}{retrain}")
    write_card(folder, repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    api = HfApi(endpoint=endpoint, token=hub_token(token))
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
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
