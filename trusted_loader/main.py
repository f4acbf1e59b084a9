"""`trusted-loader`: the enclave's own program (the CVM boundary), started with its own settings.

It measures the image it was loaded from (so the simulated TEE reports what actually runs, and real
hardware's measurement can be reproduced with ``enclava measure``), builds its clients of the chain,
IPFS and the attested CA, and serves the narrow interface of enclava.protocol.loader_api on a local
socket. Its keys are born here and never leave; the provider's wallet never enters.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from enclava.attestation.evidence import Attester, GpuCollector
from enclava.chain.market import MarketClient
from enclava.errors import ConfigError
from enclava.logs import configure_logging, get_logger
from enclava.measure import running_measurement
from enclava.storage.content_store import IpfsContentStore
from trusted_loader.ca_session import CaSession

if TYPE_CHECKING:
    from fastapi import FastAPI
from trusted_loader.enclave import EnclaveIdentity
from trusted_loader.pipeline import LoaderContext
from trusted_loader.settings import LoaderSettings

__all__ = ["main", "build_loader"]

log = get_logger("trusted_loader.main")


def _attester(settings: LoaderSettings, measurement: bytes) -> Attester:
    if settings.tee == "simulated":
        if not settings.insecure_allow_simulated_tee:
            raise ConfigError(
                "LOADER_TEE=simulated needs LOADER_INSECURE_ALLOW_SIMULATED_TEE=true",
                hint="The simulated TEE is for development only; use tdx or sev-snp on hardware.",
            )
        from enclava.attestation.simulated import SimulatedTdxAttester

        return SimulatedTdxAttester(measurement)
    from enclava.attestation.hardware import (
        ConfigfsSevSnpAttester,
        ConfigfsTdxAttester,
        PccsCollateralSource,
    )

    return (
        ConfigfsTdxAttester(PccsCollateralSource())
        if settings.tee == "tdx"
        else ConfigfsSevSnpAttester()
    )


def _gpu_collector(settings: LoaderSettings) -> GpuCollector | None:
    """``LOADER_GPU``: no GPU, NVML on a real host, or (development only) simulated GPUs."""
    if settings.gpu == "none":
        return None
    if settings.gpu == "simulated":
        if not settings.insecure_allow_simulated_tee or settings.tee != "simulated":
            raise ConfigError(
                "LOADER_GPU=simulated needs LOADER_TEE=simulated and "
                "LOADER_INSECURE_ALLOW_SIMULATED_TEE=true",
                hint="Simulated GPUs are for development only; use LOADER_GPU=nvml on hardware.",
            )
        from enclava.attestation.gpu.simulated import SIMULATED_GPU_MODELS, SimulatedGpuAttester

        if settings.simulated_gpu_class not in SIMULATED_GPU_MODELS:
            raise ConfigError(
                f"LOADER_SIMULATED_GPU_CLASS={settings.simulated_gpu_class!r} is not a GPU the "
                "simulator emits",
                hint=f"Use one of {', '.join(sorted(SIMULATED_GPU_MODELS))}.",
            )
        return SimulatedGpuAttester(gpu_class=settings.simulated_gpu_class)
    from enclava.attestation.gpu.nvml_collector import NvmlGpuCollector

    return NvmlGpuCollector()


def build_loader(settings: LoaderSettings) -> FastAPI:
    """The loader's app: its measured identity, its clients, and the interface the host may call."""
    from trusted_loader.service import build_loader_app

    measurement = running_measurement("loader")
    market = MarketClient.from_config(settings.chain_config())
    ca = CaSession(
        settings.ca_url,
        market=market,
        insecure_allow_simulated_tee=settings.insecure_allow_simulated_tee,
        expected_signer=settings.ca_signer or None,
    )
    identity = EnclaveIdentity(
        ca,
        _attester(settings, measurement),
        provider=settings.provider,
        gpu_collector=_gpu_collector(settings),
    )
    ctx = LoaderContext(
        market=market,
        store=IpfsContentStore(settings.ipfs_api),
        ca=ca,
        enclave=identity.certified,
        provider=settings.provider,
        scratch_root=Path(settings.scratch_root) if settings.scratch_root else None,
    )
    log.info(
        "trusted loader ready",
        extra={
            "measurement": measurement.hex(),
            "provider": settings.provider,
            "tee": settings.tee,
            "gpu": settings.gpu,
        },
    )
    return build_loader_app(identity, ctx, measurement=measurement)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="trusted-loader", description=__doc__)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    settings = LoaderSettings()  # type: ignore[call-arg]  # every field comes from LOADER_*
    socket = Path(settings.socket)
    socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if socket.exists():
        socket.unlink()
    app = build_loader(
        settings
    )  # the socket's folder is 0700: only root on this machine reaches it
    uvicorn.run(app, uds=str(socket), log_config=None, log_level=args.log_level)


if __name__ == "__main__":
    main()
