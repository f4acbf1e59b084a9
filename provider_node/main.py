"""`provider-node`: the provider's daemon (`run`), its Celery workers (`worker`), and a queue
check."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import typer

from enclava.console import friendly_errors

cli = typer.Typer(
    name="provider-node",
    help="Enclava provider node.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_CONFIG = typer.Option(
    None, "--config", "-c", help="TOML config file (PROVIDER_* variables override it)."
)


def _use_config(config: Path | None) -> None:
    from provider_node.settings import CONFIG_ENV

    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())


@cli.command()
@friendly_errors
def run(config: Path = _CONFIG) -> None:
    """Register, publish TEE offers, follow the chain, dispatch accepted orders to the workers."""
    from enclava.logs import configure_logging
    from provider_node.node import ProviderNode
    from provider_node.queue import make_celery
    from provider_node.runtime import Runtime
    from provider_node.settings import load_settings

    configure_logging()
    _use_config(config)
    runtime = Runtime.build(load_settings())
    celery = make_celery(
        runtime.settings.redis_url,
        max_attempts=runtime.settings.max_attempts,
        queue=runtime.settings.queue_name,
    )
    ProviderNode(runtime, celery).run()


@cli.command()
def worker(
    config: Path = _CONFIG,
    concurrency: int = typer.Option(0, help="Worker processes (0: from config)."),
    loglevel: str = typer.Option("INFO"),
) -> None:
    """Run the Celery workers that execute orders with the trusted loader, restarted if they die."""
    from provider_node.settings import load_settings
    from provider_node.supervise import supervise

    _use_config(config)
    os.environ["ENCLAVA_CELERY_WORKER"] = "1"
    settings = load_settings()
    processes = concurrency or settings.concurrency
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "provider_node.queue:app",
        "worker",
        f"--concurrency={processes}",
        f"--loglevel={loglevel}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "-Q",
        settings.queue_name,
        "-n",
        f"{settings.name}-{uuid.uuid4().hex[:6]}@%h",
    ]
    raise typer.Exit(code=supervise(command))


@cli.command()
@friendly_errors
def ping(config: Path = _CONFIG, timeout: float = typer.Option(30.0)) -> None:
    """Send a task through Redis to a worker and wait for its answer."""
    from provider_node.queue import make_celery
    from provider_node.settings import load_settings

    _use_config(config)
    settings = load_settings()
    celery = make_celery(settings.resolved_redis_url(), queue=settings.queue_name)
    token = uuid.uuid4().hex
    reply = celery.send_task("enclava.health.ping", args=[token]).get(timeout=timeout)
    if reply.get("token") != token:
        typer.echo("worker answered with the wrong token", err=True)
        raise typer.Exit(code=1)
    typer.echo(
        f"worker {reply['worker']} (pid {reply['pid']}) answered in queue {settings.queue_name}"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
