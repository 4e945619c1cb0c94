"""tweetling: turn someone's posts into a language model that writes in their voice."""

__version__ = "0.1.0"
