"""Options several commands share, and the deprecated spellings they still accept.

``--tee-offer ID`` names the provider's TEE offer (its capacity on the provider registry). The old
``--offer ID`` still works for one release: it is hidden from ``--help`` and prints a deprecation
notice on stderr.
"""

from __future__ import annotations

import typer

__all__ = ["TeeOfferOption", "DeprecatedOfferOption", "OFFER_DEPRECATED", "resolve_tee_offer"]

_HINT = "'--tee-offer'"

#: What ``--offer`` prints on stderr.
OFFER_DEPRECATED = "--offer is deprecated; use --tee-offer"

TeeOfferOption = typer.Option(None, "--tee-offer", help="Id of the provider's TEE offer.")
DeprecatedOfferOption = typer.Option(
    None, "--offer", hidden=True, help="Deprecated spelling of --tee-offer."
)


def resolve_tee_offer(tee_offer: int | None, offer: int | None) -> int:
    """The TEE offer a command was given, by ``--tee-offer`` or the deprecated ``--offer``.

    Raises ``typer.BadParameter`` (a usage error, exit 2) when neither is given, or both with
    different ids.
    """
    if offer is not None:
        typer.echo(OFFER_DEPRECATED, err=True)
        if tee_offer is not None and tee_offer != offer:
            raise typer.BadParameter(f"{tee_offer}, but --offer says {offer}", param_hint=_HINT)
        tee_offer = offer
    if tee_offer is None:
        raise typer.BadParameter(
            "missing: give the id of the provider's TEE offer", param_hint=_HINT
        )
    return tee_offer
