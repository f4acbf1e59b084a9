"""`provider-node`: the provider's daemon. Today: Celery workers and a queue round-trip check.

Order watching and execution arrive with issue 5.
"""

from __future__ import annotations

import os
import sys
import uuid

import typer

from enclava.cli.errors import friendly_errors

cli = typer.Typer(name="provider-node", help="Enclava provider node.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@cli.command()
def worker(concurrency: int = typer.Option(1, help="Worker processes (one enclave job each)."),
           loglevel: str = typer.Option("INFO")) -> None:
    """Run a Celery worker on the provider's Redis queue."""
    os.environ["ENCLAVA_CELERY_WORKER"] = "1"
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "provider_node.queue:app", "worker",
                              f"--concurrency={concurrency}", f"--loglevel={loglevel}", "--pool=prefork",
                              "--without-gossip", "--without-mingle"])


@cli.command()
@friendly_errors
def ping(timeout: float = typer.Option(30.0)) -> None:
    """Send a task through Redis to a worker and wait for its answer."""
    from provider_node.queue import make_celery
    from provider_node.settings import load_settings

    celery = make_celery(load_settings().resolved_redis_url())
    token = uuid.uuid4().hex
    reply = celery.send_task("enclava.health.ping", args=[token]).get(timeout=timeout)
    if reply.get("token") != token:
        typer.echo("worker answered with the wrong token", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"worker {reply['worker']} (pid {reply['pid']}) answered")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
