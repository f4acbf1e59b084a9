"""`python -m bench.serving --quick` serves the shipped model plain and confidential, writes the
JSON in its documented shape, and every confidential response was verified by the client's
transport (no timing asserts).

An integration test: both engines start (torch import, model load), ~35 s in all.
"""

from __future__ import annotations

import json

from bench.serving import CONCURRENCY, TARGETS, main

SIDE_KEYS = {
    "requests",
    "completion_tokens",
    "wall_s",
    "tokens_per_s",
    "requests_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "ttft_p50_s",
}
RATIO_KEYS = {
    "throughput",
    "requests_per_s",
    "latency_p50",
    "latency_p95",
    "ttft_p50",
    "meets_targets",
}


def test_quick_bench_measures_both_sides_and_verifies_every_confidential_response(tmp_path, capsys):
    out = tmp_path / "serving.json"
    assert main(["--quick", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    settings = data["settings"]
    assert settings["quick"] is True and data["targets"] == TARGETS
    assert set(data["concurrency"]) == {str(c) for c in CONCURRENCY}
    sent = max(CONCURRENCY)  # the warm-up request of every client
    for concurrency, row in data["concurrency"].items():
        expected = int(concurrency) * settings["rounds"] * settings["requests_per_client"]
        for side in ("plain", "confidential"):
            summary = row[side]
            assert set(summary) == SIDE_KEYS
            assert summary["requests"] == expected
            assert summary["completion_tokens"] == expected * settings["max_tokens"]
            assert 0 < summary["ttft_p50_s"] <= summary["latency_p50_s"]
            assert summary["latency_p50_s"] <= summary["latency_p95_s"]
            assert summary["tokens_per_s"] > 0
        assert set(row["ratios"]) == RATIO_KEYS
        assert isinstance(row["ratios"]["meets_targets"], bool)
        sent += expected
    verified = data["verified"]
    assert verified["confidential_requests"] == sent
    assert verified["journal_entries"] == sent  # every confidential response's receipt verified
    assert verified["vouched_output_tokens"] == sent * settings["max_tokens"]
    costs = data["per_request_costs"]
    assert set(costs["enclave_ms"]) == {"session_token_verify", "voucher_verify", "receipt_sign"}
    assert set(costs["client_ms"]) == {"receipt_verify", "voucher_sign"}
    assert costs["tls_handshake_ms"] > 0 and costs["ecdsa_backend"]
    table = capsys.readouterr().out
    assert "conf/plain" in table and "pinned TLS handshake" in table
    assert f"verified: {sent} of {sent}" in table
