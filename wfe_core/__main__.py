"""``python -m wfe_core`` is ``wfe``."""

from wfe_core.launch import main

main()
