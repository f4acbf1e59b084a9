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


@cli.command()
@friendly_errors
def serve(
    model: int = typer.Option(..., help="The model resource to serve (its owner priced tokens)."),
    offer: int = typer.Option(..., help="Your TEE offer the service runs on."),
    lifetime: int = typer.Option(3600, min=60, help="Seconds the service lives on chain."),
    host: str = typer.Option("127.0.0.1", help="Host name or IP customers reach it at."),
    port: int = typer.Option(8443, min=1, max=65535, help="Port the enclave serves HTTPS on."),
    name: str = typer.Option("", help="The model's served name (default: model-<id>)."),
    credit: int = typer.Option(1, min=1, max=64, help="Responses a customer may leave unvouched."),
    settle_every: float = typer.Option(60.0, min=1.0, help="Seconds between settlements."),
    config: Path = _CONFIG,
) -> None:
    """Start a confidential service of a listed model, serve it in the enclave until its lifetime
    ends (or Ctrl-C), and settle the customers' vouchers on the way and at the end."""
    import json
    import signal

    from enclava.logs import configure_logging
    from provider_node.runtime import Runtime
    from provider_node.serving import serve_until, start_service
    from provider_node.settings import load_settings

    configure_logging()
    _use_config(config)
    runtime = Runtime.build(load_settings())
    started = start_service(
        runtime,
        model_id=model,
        tee_offer_id=offer,
        lifetime_s=lifetime,
        host=host,
        port=port,
        model_name=name or f"model-{model}",
        credit_responses=credit,
    )
    typer.echo(
        json.dumps(
            {
                "service_id": started.service_id,
                "endpoint": started.endpoint,
                "ends_at": started.terms.ends_at,
            }
        ),
        nl=True,
    )
    sys.stdout.flush()

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        serve_until(runtime, started, settle_every_s=settle_every, until=started.terms.ends_at)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.loader.close()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
