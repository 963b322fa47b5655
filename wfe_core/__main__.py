"""``python -m wfe_core`` is ``wfe``."""

from .cli import main

main()
