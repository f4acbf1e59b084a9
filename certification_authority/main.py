"""`enclava-ca`: Certification authority. Attestation verification and the key broker arrive with issue 4; today it serves health and metrics."""

from __future__ import annotations

from enclava.serve import serve
from enclava.service import create_service_app

app = create_service_app("enclava-ca", description="Certification authority. Attestation verification and the key broker arrive with issue 4; today it serves health and metrics.")


def main(argv: list[str] | None = None) -> None:
    serve(app, "enclava-ca", default_port=8700, argv=argv)
