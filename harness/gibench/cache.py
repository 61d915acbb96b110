"""Where gibench keeps what it builds or decodes once for later runs: the user cache.

Datasets built on demand (the embedded ``mini``) and the decode cache
(:mod:`gibench.data.decoded_cache`) live under :func:`default_cache_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves the cache elsewhere.
CACHE_ENV = "GIBENCH_CACHE"


def default_cache_dir() -> Path:
    """``$GIBENCH_CACHE`` or the platform's user cache (platformdirs) + ``/gibench``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gibench"))
