"""tweetling: turn someone's posts into a language model that writes in their voice."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `Bot` pulls in torch and transformers: import it on first use so `import tweetling` stays light.
    if name == "Bot":
        from .bots import Bot

        return Bot
    raise AttributeError(f"module 'tweetling' has no attribute {name!r}")
