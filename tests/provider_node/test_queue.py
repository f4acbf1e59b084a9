"""Redis + a real Celery worker round-trip a task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from enclava.devnet.processes import stop_group
from provider_node.queue import make_celery


@pytest.fixture
def worker(devnet_manifest):
    env = {**os.environ, "PROVIDER_REDIS_URL": devnet_manifest.redis_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "provider_node.main", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield proc
    stop_group(proc.pid)
    proc.wait(timeout=10)


def test_a_worker_answers_a_task_through_redis(devnet_manifest, worker):
    celery = make_celery(
        devnet_manifest.redis_url, queue="enclava-provider"
    )  # the default node name
    token = uuid.uuid4().hex
    reply = celery.send_task("enclava.health.ping", args=[token]).get(timeout=60)
    assert reply["token"] == token
    assert reply["pid"] != os.getpid()


def test_provider_node_ping_command_reports_the_worker(devnet_manifest, worker):
    env = {**os.environ, "PROVIDER_REDIS_URL": devnet_manifest.redis_url}
    result = subprocess.run(
        [sys.executable, "-m", "provider_node.main", "ping", "--timeout", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "answered" in result.stdout


def test_worker_logs_are_json_lines(devnet_manifest, worker):
    celery = make_celery(devnet_manifest.redis_url, queue="enclava-provider")
    celery.send_task("enclava.health.ping", args=[uuid.uuid4().hex]).get(timeout=60)
    stop_group(worker.pid)
    output = worker.communicate(timeout=20)[0].decode(errors="replace").splitlines()
    records = [json.loads(line) for line in output if line.startswith("{")]
    celery_records = [r for r in records if r["logger"].startswith("celery")]
    assert celery_records, f"no JSON log line from Celery in: {output[-20:]}"
    assert all({"ts", "level", "event"} <= set(r) for r in records)
    assert not [line for line in output if line.startswith("[20")], (
        "Celery's plain-text log format leaked"
    )
