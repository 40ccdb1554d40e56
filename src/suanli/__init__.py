"""suanli (算力): what an AI accelerator is really worth to you."""

__version__ = "0.1.0"
