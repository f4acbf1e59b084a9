"""`enclava-ca`: the certification authority and key broker service (settings from ``CA_*``).

It serves HTTPS only, with the TLS key its own evidence binds (``create_ca_app`` leaves the files
in ``app.state.tls``)."""

from __future__ import annotations

from enclava.serve import serve


def main(argv: list[str] | None = None) -> None:
    from certification_authority.compose import create_ca_app

    app = create_ca_app()
    tls = app.state.tls
    serve(
        app,
        "enclava-ca",
        default_port=8700,
        argv=argv,
        ssl_certfile=tls.certfile,
        ssl_keyfile=tls.keyfile,
        ssl_keyfile_password=tls.key_password,
    )


if __name__ == "__main__":
    main()
