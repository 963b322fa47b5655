"""The built-in strategies, one plugin module each, so that any one of them can be
blocked (``WFE_BLOCK_PLUGINS=wfe.strategy.adaptive``) or replaced alone.

======================== =============== ==================================================
plugin                   strategy        module
======================== =============== ==================================================
``wfe.strategy.sequential`` ``sequential`` :mod:`.sequential`
``wfe.strategy.parallel``   ``parallel``   :mod:`.parallel`
``wfe.strategy.hybrid``     ``hybrid``     :mod:`.hybrid`
``wfe.strategy.adaptive``   ``adaptive``   :mod:`.adaptive` (the default)
======================== =============== ==================================================

What a policy is and what the scheduler asks of it is in :mod:`.policy`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy import lazy_exports

if TYPE_CHECKING:
    from wfe_core.plugin.builtins.strategies.adaptive import AdaptivePolicy
    from wfe_core.plugin.builtins.strategies.hybrid import HybridPolicy
    from wfe_core.plugin.builtins.strategies.parallel import ParallelPolicy
    from wfe_core.plugin.builtins.strategies.policy import Policy, RankQueue
    from wfe_core.plugin.builtins.strategies.sequential import SequentialPolicy

__all__ = ["AdaptivePolicy", "HybridPolicy", "ParallelPolicy", "Policy", "RankQueue", "SequentialPolicy"]

#: name -> its module. Imported on first use (PEP 562): a run imports the package for
#: the one strategy it uses, not all four.
_MODULES = {
    "AdaptivePolicy": "adaptive",
    "HybridPolicy": "hybrid",
    "ParallelPolicy": "parallel",
    "Policy": "policy",
    "RankQueue": "policy",
    "SequentialPolicy": "sequential",
}


__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
