"""`enclava-ca`: the certification authority and key broker service (settings from ``CA_*``)."""

from __future__ import annotations

from enclava.serve import serve


def main(argv: list[str] | None = None) -> None:
    from certification_authority.compose import create_ca_app

    serve(create_ca_app(), "enclava-ca", default_port=8700, argv=argv)


if __name__ == "__main__":
    main()
