"""`enclava measure`: the value anyone can reproduce from a checkout, the on-chain digest, the
archive."""

from __future__ import annotations

from typer.testing import CliRunner

from enclava.chain.types import measurement_digest
from enclava.cli.main import app
from enclava.measure import build_image, image_files, measure
from enclava.paths import project_root

ROOT = project_root()


def _fields(output: str) -> dict[str, str]:
    return {
        k.strip(): v.strip()
        for k, _, v in (line.partition(":") for line in output.splitlines())
        if _
    }


def test_measure_prints_the_measurement_and_the_onchain_digest(tmp_path):
    archive = tmp_path / "ca.tar"
    result = CliRunner().invoke(
        app, ["measure", "--component", "ca", "--root", str(ROOT), "--archive", str(archive)]
    )
    assert result.exit_code == 0, result.output
    fields = _fields(result.output)
    expected = measure(ROOT, "ca")
    assert fields["measurement"] == expected.hex()
    assert fields["digest"] == "0x" + measurement_digest(expected).hex()
    assert archive.read_bytes() == build_image(ROOT, "ca")


def test_measure_lists_every_file_with_its_hash():
    result = CliRunner().invoke(app, ["measure", "--root", str(ROOT), "--list"])
    assert result.exit_code == 0, result.output
    listed = [
        line.split("  ", 1)[1]
        for line in result.output.splitlines()
        if len(line.split("  ", 1)[0]) == 64
    ]
    assert listed == image_files(ROOT, "loader")


def test_measure_outside_a_checkout_says_what_to_do(tmp_path):
    result = CliRunner().invoke(app, ["measure", "--root", str(tmp_path)])
    assert (
        result.exit_code == 1
        and "measure_file_missing" in result.output
        and "--root" in result.output
    )
