"""The provider started beside a devnet: recorded in its manifest, reused, stopped, fresh per
chain."""

from __future__ import annotations

from enclava import devnet
from enclava.devnet.processes import is_alive
from enclava.devnet.provider import _fresh_state, start_provider, stop_provider


def test_provider_is_recorded_in_the_devnet_and_stopped_with_it(devnet_manifest):
    handle = start_provider(devnet_manifest.name, name="demo-stop", dev_role="provider_b")
    again = start_provider(devnet_manifest.name, name="demo-stop", dev_role="provider_b")
    assert again.node_pid == handle.node_pid  # a healthy provider is reused
    health = devnet.status(devnet_manifest.name)
    assert health["provider-demo-stop-node"] and health["provider-demo-stop-worker"]
    stop_provider(devnet_manifest.name, "demo-stop")
    assert not is_alive(handle.node_pid) and not is_alive(handle.worker_pid)
    services = devnet.load_manifest(devnet_manifest.name).services
    assert "provider-demo-stop-node" not in services and "provider-demo-stop-worker" not in services


def test_provider_state_of_an_earlier_devnet_is_dropped(tmp_path):
    folder = tmp_path / "provider-x"
    (folder / "state").mkdir(parents=True)
    (folder / "state" / "provider-node.db").write_bytes(b"old cursor")
    _fresh_state(folder, 1.5)
    assert not (folder / "state").exists()
    (folder / "state").mkdir()
    (folder / "state" / "provider-node.db").write_bytes(b"this chain's cursor")
    _fresh_state(folder, 1.5)
    assert (folder / "state" / "provider-node.db").read_bytes() == b"this chain's cursor"
