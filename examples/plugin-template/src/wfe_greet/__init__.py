"""wfe-greet: a minimal third-party wfe plugin."""

__version__ = "0.1.0"
