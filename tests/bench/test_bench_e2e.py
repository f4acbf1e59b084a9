"""`python -m bench.e2e` with two orders on the session devnet writes well-formed JSON (no timing
asserts)."""

from __future__ import annotations

import json

from bench.e2e import E2E_STAGES, main


def test_bench_e2e_with_two_orders_writes_every_stage(devnet_manifest, tmp_path, capsys):
    out = tmp_path / "e2e.json"
    exit_code = main(["--orders", "2", "--devnet", devnet_manifest.name, "--out", str(out)])
    output = capsys.readouterr().out
    assert exit_code == 0, output
    data = json.loads(out.read_text())
    assert data["orders"] == 2 and len(data["runs"]) == 2
    assert data["all_match_plain"] is True and data["all_reports_valid"] is True
    for stage in (*E2E_STAGES, "total"):
        assert set(data["stages"][stage]) == {"p50", "p95"}, stage
        assert (
            data["stages"][stage]["p50"] >= 0
            and data["stages"][stage]["p95"] >= data["stages"][stage]["p50"]
        )
    for key in ("ratio_vs_plain_process", "orders_per_minute"):
        assert data[key] > 0
    assert set(data["gas_per_order"]["steps_p50"]) == {
        "createOrder",
        "acceptOrder",
        "completeOrder",
    }
    assert data["gas_per_order"]["p50"] == sum(data["gas_per_order"]["steps_p50"].values())
    for run in data["runs"]:
        assert set(E2E_STAGES) <= set(run["stages"]) and len(run["tx_hashes"]) == 3
    assert "ratio confidential / plain process" in output
    assert "workload" in output
