"""`python -m bench.cli_startup` times every command and writes well-formed JSON (no timing
asserts); without a devnet, `order status` reaches the stub RPC, so start-up up to the network call
is measured."""

from __future__ import annotations

import json

from bench.cli_startup import TARGETS_S, main


def test_bench_cli_startup_writes_every_command(tmp_path, capsys):
    out = tmp_path / "cli_startup.json"
    assert main(["--runs", "1", "--out", str(out)]) == 0
    output = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["network"] == "stub" and data["runs"] == 1
    assert set(data["commands"]) == set(TARGETS_S)
    for label, row in data["commands"].items():
        assert len(row["samples_s"]) == 1 and row["min_s"] <= row["median_s"] <= row["max_s"]
        assert row["target_s"] == TARGETS_S[label] and isinstance(row["under_target"], bool)
    assert data["commands"]["help"]["exit_codes"] == [0]
    assert data["commands"]["version"]["exit_codes"] == [0]
    status = data["commands"]["order_status"]
    assert status["exit_codes"] == [1]  # the stub refuses the chain call: a friendly error
    assert 0 < status["to_first_rpc_median_s"] <= status["median_s"]
    assert "enclava --help" in output and "to RPC s" in output
