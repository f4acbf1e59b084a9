"""Where the project, its tools and its state live on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from enclava.errors import ToolchainError

__all__ = ["project_root", "tool_cache", "devnet_home", "find_tool"]

KUBO_VERSION = "v0.42.0"


def project_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parent.parent


def tool_cache() -> Path:
    """Heavy, reusable downloads and builds shared by every clone on the machine."""
    return Path(os.environ.get("ENCLAVA_CACHE", Path.home() / ".cache" / "enclava"))


def user_home() -> Path:
    """A user's own Enclava folder (wallets, remembered audit heads): ``$ENCLAVA_HOME``, else
    ``~/.config/enclava``."""
    home = os.environ.get("ENCLAVA_HOME")
    return Path(home) if home else Path.home() / ".config" / "enclava"


def devnet_home() -> Path:
    """The folder that holds every devnet's state (ignored by git)."""
    return Path(os.environ.get("ENCLAVA_DEVNET_HOME", project_root() / ".devnet"))


def find_tool(name: str) -> Path:
    """Locate a native tool: the project's own install first, then PATH."""
    candidates = {
        "anvil": [project_root() / "node_modules" / ".bin" / "anvil"],
        "ipfs": [tool_cache() / "kubo" / KUBO_VERSION / "ipfs"],
        "redis-server": [],
    }.get(name, [])
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolchainError(f"required program {name!r} was not found")
