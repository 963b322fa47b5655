"""wfe-greet: a minimal third-party wfe plugin."""
