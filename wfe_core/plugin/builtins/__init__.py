"""The core's own plugins: ordinary plugin modules, registered like external ones (first).

Each module here is one plugin, so each can be blocked (``WFE_BLOCK_PLUGINS``) and
replaced by a plugin providing the same names — except the essential ones. The README's
"Plugins" section says what blocking each one does.

- ``variables``: ``variable.set``, ``variable.get``; ``wait``; ``condition``:
  ``validate.condition``;
- ``strategies/``: one module per strategy (``sequential``, ``parallel``, ``hybrid``,
  ``adaptive``) and the policy protocol they share;
- ``structure``: the essential structural validators; ``template_references``: the
  template checks;
- ``reporters/``: ``console`` and ``json``.

Their plugin names, which are essential and the names before the split are in
:mod:`wfe_core.plugin.registry` (``BUILTIN_PLUGINS``, ``ESSENTIAL_PLUGINS``,
``BUILTIN_ALIASES``): importing this package must not be needed to build ``wfe --help``.
"""
