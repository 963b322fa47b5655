"""wfe-http: ``http.get/post/put/patch/delete/head`` actions for wfe, on requests.

The wfe plugin itself is :mod:`wfe_http.plugin` (entry point ``http``).
"""

from __future__ import annotations

from .params import Auth, RequestParams
from .request import SESSION_KEY, perform_request

__version__ = "0.1.0"

__all__ = ["SESSION_KEY", "Auth", "RequestParams", "perform_request"]
