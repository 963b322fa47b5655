"""``python -m wfe_core`` is ``wfe``."""

from wfe_core.cli import main

main()
