"""The bootstrap found or built the real programs, and a second run reuses them."""

from __future__ import annotations

import subprocess

from enclava.paths import find_tool, project_root


def test_real_programs_are_installed():
    versions = {
        "anvil": [str(find_tool("anvil")), "--version"],
        "ipfs": [str(find_tool("ipfs")), "version"],
        "redis-server": [str(find_tool("redis-server")), "--version"],
    }
    out = {
        name: subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        for name, cmd in versions.items()
    }
    assert "anvil Version: 1.7.1" in out["anvil"]
    assert "ipfs version 0.42.0" in out["ipfs"]
    assert "Redis server v=" in out["redis-server"]


def test_kubo_bootstrap_reuses_the_cached_build():
    result = subprocess.run(
        ["bash", "scripts/bootstrap/kubo.sh"],
        cwd=project_root(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "building" not in result.stderr
    assert result.stdout.strip() == str(find_tool("ipfs"))
