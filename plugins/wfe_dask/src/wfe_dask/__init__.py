"""wfe-dask: run workflow steps on a Dask cluster (``wfe run --executor dask``).

The wfe plugin itself is :mod:`wfe_dask.plugin` (entry point ``dask``); the executor is
:class:`wfe_dask.executor.DaskExecutor`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
