from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from enclava.splitnn import CONV_SPLIT, LINEAR_SPLIT, load_head
from enclava.splitnn.tail_service import create_tail_app
from research.splitnn import digits_28


def test_tail_classifies_obfuscated_activations(model_dir):
    client = TestClient(create_tail_app(model_dir))
    x, y = digits_28("test")
    for split in (LINEAR_SPLIT, CONV_SPLIT):
        head = load_head(split, model_dir)
        z = head.obfuscation.apply(
            head.forward(x[:64]), head.activation_rms, np.random.default_rng(0)
        )
        reply = client.post(f"/v1/tail/{split}", json={"activations": z.tolist()})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["split"] == split and len(body["labels"]) == 64
        assert np.allclose(np.sum(body["probabilities"], axis=1), 1.0, atol=1e-4)
        assert np.mean(np.array(body["labels"]) == y[:64]) > 0.85


def test_tail_lists_splits_and_serves_health(model_dir):
    client = TestClient(create_tail_app(model_dir))
    assert client.get("/v1/tail").json()["splits"][CONV_SPLIT] == {"input_dim": 256}
    assert client.get("/healthz").json()["status"] == "ok"
    assert "enclava_errors_total" in client.get("/metrics").text


def test_tail_rejects_unknown_split_and_bad_shapes_with_the_one_error_shape(model_dir):
    client = TestClient(create_tail_app(model_dir))
    reply = client.post("/v1/tail/resnet_block3", json={"activations": [[0.0] * 128]})
    assert reply.status_code == 404 and reply.json()["type"] == "unknown_split"
    assert set(reply.json()) == {"type", "detail", "hint"}
    for bad in ([[0.0] * 256], [[0.0] * 128, [0.0] * 127]):
        reply = client.post(f"/v1/tail/{LINEAR_SPLIT}", json={"activations": bad})
        assert reply.status_code == 422 and reply.json()["type"] == "invalid_activation_shape"
    for bad in ({"activations": []}, {"activations": "nope"}, {}):
        reply = client.post(f"/v1/tail/{LINEAR_SPLIT}", json=bad)
        assert reply.status_code == 422 and reply.json()["type"] == "invalid_request"
    reply = client.post(
        f"/v1/tail/{LINEAR_SPLIT}",
        content=b'{"activations": [[NaN' + b", 0.0" * 127 + b"]]}",
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 422
