"""A loader with one changed byte is not certified (issue 13, break 4), against the real devnet CA.

Before: the simulated TEE reported a constant (``DEV_LOADER_MEASUREMENT``, the SHA-384 of a fixed
string) whatever files the loader ran, provider settings could override it, and the devnet
allow-listed that constant, so a provider could change any byte of the loader and still be
certified.

Now the loader's image is a canonical archive of the files it runs (``enclava.measure``); the
simulated TEE reports ``running_measurement("loader")`` (the measurement of the files the process
was loaded from, refused if it loaded other first-party code); the devnet allow-lists
``measure(checkout, "loader")`` and ``measure(checkout, "ca")``. Here, with real processes:

- (a) a copy of the image's files measures the same as the checkout; one changed byte anywhere in it
  (a loader module, the sandbox bootstrap, a library module, the dependency lock) measures
  differently;
- (b) a loader process started from the modified copy reports its own measurement, and the devnet's
  CA refuses its evidence with ``measurement_not_allowed`` (nothing registered on chain), while a
  process started from the unmodified files is certified; the old development constant is refused
  too; the devnet's CA process reports its own measured image;
- (c) ``running_measurement`` refuses a process that has loaded a first-party module outside the
  image.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from enclava.attestation import Evidence
from enclava.attestation.tdx_quote import TdxQuote
from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.chain.types import measurement_digest
from enclava.devnet.measurements import devnet_measurement
from enclava.measure import image_files, measure
from enclava.paths import project_root
from enclava.protocol.tee import TeeType
from tests.integration.broker_story import certify_body

ROOT = project_root()
#: files whose single changed byte must change the loader's measurement (one of each kind)
CHANGED = [
    "trusted_loader/pipeline.py",
    "trusted_loader/sandbox/_bootstrap.py",
    "enclava/crypto/envelope.py",
    "requirements/app.lock",
]
OLD_DEV_CONSTANT = hashlib.sha384(b"enclava development trusted loader v1").digest()
REPORT = textwrap.dedent("""
    import sys
    import trusted_loader.sandbox
    from enclava.measure import running_measurement, running_root
    print(running_root("loader"))
    print(running_measurement("loader").hex())
""")


@pytest.fixture(scope="module")
def snapshot() -> dict[str, bytes]:
    """The loader image's files as they are now, read once (the copies below are made from it)."""
    return {relative: (ROOT / relative).read_bytes() for relative in image_files(ROOT, "loader")}


def _write(snapshot: dict[str, bytes], dest: Path, changed: str | None = None) -> Path:
    """A copy of the image under ``dest``; in ``changed`` one byte differs: the case of its first
    letter (in the module docstring or the lock's header comment, so the file still parses and
    runs)."""
    for relative, content in snapshot.items():
        if relative == changed:
            at = next(
                i for i, byte in enumerate(content) if chr(byte).isascii() and chr(byte).isalpha()
            )
            content = content[:at] + bytes([content[at] ^ 0x20]) + content[at + 1 :]
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return dest


def _python(root: Path, code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter that imports the packages from ``root`` only (as a CVM would)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def _loader_reports(root: Path) -> bytes:
    """The measurement a loader process loaded from ``root`` reports to its simulated TEE."""
    result = _python(root, REPORT)
    assert result.returncode == 0, result.stderr
    loaded_from, measurement = result.stdout.split()
    assert Path(loaded_from) == root.resolve()
    return bytes.fromhex(measurement)


# (a) reproducible, and one byte matters


def test_an_unchanged_copy_measures_like_the_checkout(snapshot, tmp_path):
    first, second = (
        _write(snapshot, tmp_path / "first"),
        _write(snapshot, tmp_path / "elsewhere" / "second"),
    )
    os.utime(second / "trusted_loader" / "pipeline.py", (0, 0))
    assert measure(first, "loader") == measure(second, "loader") == measure(ROOT, "loader")


@pytest.mark.parametrize("changed", CHANGED)
def test_one_changed_byte_changes_the_measurement(snapshot, tmp_path, changed):
    original = measure(_write(snapshot, tmp_path / "original"), "loader")
    modified = measure(_write(snapshot, tmp_path / "modified", changed=changed), "loader")
    assert modified != original and len(modified) == 48


# (c) what is measured is what runs


def test_a_loader_process_reports_the_files_it_was_loaded_from(snapshot, tmp_path):
    modified = _write(snapshot, tmp_path / "modified", changed="trusted_loader/pipeline.py")
    original = measure(_write(snapshot, tmp_path / "original"), "loader")
    assert _loader_reports(modified) == measure(modified, "loader") != original


def test_running_measurement_refuses_a_foreign_first_party_module():
    result = _python(
        ROOT,
        REPORT.replace(
            "import trusted_loader.sandbox", "import trusted_loader.sandbox, provider_node"
        ),
    )
    assert result.returncode != 0
    assert "ForeignModuleLoaded" in result.stderr and "provider_node" in result.stderr


def test_running_measurement_refuses_a_first_party_file_loaded_by_path():
    loot = ROOT / "provider_node" / "__init__.py"
    code = REPORT.replace(
        "import sys\n",
        "import sys, runpy, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('loot', {str(loot)!r})\n"
        "sys.modules['loot'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(sys.modules['loot'])\n",
    )
    result = _python(ROOT, code)
    assert (
        result.returncode != 0
        and "ForeignModuleLoaded" in result.stderr
        and "loot" in result.stderr
    )


# (b) the real CA on the devnet


@pytest.fixture(scope="module")
def ca(devnet_manifest) -> Iterator[httpx.Client]:
    """The devnet's CA over its attested, pinned TLS channel (the CA serves HTTPS only)."""
    with connect_devnet_ca(devnet_manifest) as ca:
        yield ca.client


@pytest.fixture(scope="module")
def registry(devnet_manifest):
    chain = ChainClient(devnet_manifest.rpc_url)
    return ContractSet(chain.w3, devnet_manifest.contracts).attestation_registry


def _certify(ca: httpx.Client, measurement: bytes) -> tuple[str, httpx.Response]:
    """Evidence from the simulated TEE with ``measurement`` as MRTD, sent to the real CA's
    ``/v1/certify``."""
    enclave, body = certify_body(ca, measurement=measurement)
    return enclave, ca.post("/v1/certify", json=body, timeout=60)


@pytest.mark.devnet
def test_a_loader_with_one_changed_byte_is_not_certified(ca, registry, snapshot, tmp_path):
    reported = _loader_reports(
        _write(snapshot, tmp_path / "modified", changed="trusted_loader/pipeline.py")
    )
    enclave, reply = _certify(ca, reported)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["type"] == "measurement_not_allowed"
    assert registry.functions.checkEnclave(enclave).call()[0] is False
    assert (
        registry.functions.isMeasurementAllowed(
            int(TeeType.SIMULATED), measurement_digest(reported)
        ).call()
        is False
    )


@pytest.mark.devnet
def test_the_checkouts_own_loader_is_certified(ca, registry):
    reported = _loader_reports(ROOT)
    assert reported == devnet_measurement("loader"), (
        "the checkout changed since the devnet allow-listed it"
    )
    enclave, reply = _certify(ca, reported)
    assert reply.status_code == 200, reply.text
    assert registry.functions.checkEnclave(enclave).call()[0] is True


@pytest.mark.devnet
def test_the_old_development_constant_is_no_longer_certified(ca):
    _, reply = _certify(ca, OLD_DEV_CONSTANT)  # what every simulated loader reported before
    assert 400 <= reply.status_code < 500 and reply.json()["type"] == "measurement_not_allowed"


@pytest.mark.devnet
def test_the_devnet_ca_reports_its_own_measured_image(ca, registry):
    identity = ca.get("/v1/ca", params={"nonce": "ab" * 32}, timeout=30).json()
    reported = TdxQuote.parse(Evidence.from_dict(identity["evidence"]).quote).body.mr_td
    assert reported == measure(ROOT, "ca") == devnet_measurement("ca")
    assert registry.functions.isMeasurementAllowed(
        int(TeeType.SIMULATED), measurement_digest(reported)
    ).call()
