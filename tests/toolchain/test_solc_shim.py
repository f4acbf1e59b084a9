"""The solc shim speaks the native command line py-solc-x expects, over the npm compiler."""

from __future__ import annotations

import json
import re
import subprocess

from enclava.paths import project_root

SHIM = project_root() / "scripts" / "bootstrap" / "solc-shim.js"


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(SHIM), *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def _input(source: str) -> str:
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {"Example.sol": {"content": source}},
            "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
        }
    )


def test_version_is_in_native_format():
    result = _run("--version")
    assert result.returncode == 0
    assert re.search(r"^Version: 0\.8\.28\+commit\.[0-9a-f]{8}\.Linux\.g\+\+$", result.stdout, re.M)


def test_py_solc_x_finds_and_reads_the_shim():
    """py-solc-x lives in brownie's environment: ask it there, as brownie will."""
    code = (
        "import solcx, solcx.install as i, solcx.wrapper as w; "
        "print(solcx.get_installed_solc_versions(), w.get_solc_version(i.get_executable('0.8.28')))"
    )
    result = subprocess.run(
        [str(project_root() / ".brownie-venv" / "bin" / "python"), "-c", code],
        env={
            "SOLCX_BINARY_PATH": str(project_root() / ".solcx"),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Version('0.8.28')" in result.stdout and result.stdout.strip().endswith("0.8.28")


def test_standard_json_resolves_an_openzeppelin_import():
    source = (
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\n"
        'import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";\n'
        "contract Owned is Ownable { constructor() Ownable(msg.sender) {} }\n"
    )
    result = _run("--standard-json", "--allow-paths", str(project_root()), stdin=_input(source))
    output = json.loads(result.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert output["contracts"]["Example.sol"]["Owned"]["evm"]["bytecode"]["object"]
    assert "@openzeppelin/contracts/access/Ownable.sol" in output["sources"]


def test_a_missing_import_is_reported_as_a_compiler_error():
    source = (
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\n"
        'import "./Nope.sol";\ncontract A {}\n'
    )
    output = json.loads(_run("--standard-json", stdin=_input(source)).stdout)
    messages = [e["message"] for e in output["errors"] if e["severity"] == "error"]
    assert any("Nope.sol" in m for m in messages)


def test_unknown_options_are_refused():
    result = _run("--combined-json", "abi")
    assert result.returncode == 2
    assert "unsupported option" in result.stderr
