"""Reproducible measurements of the components that run in a TEE (the trusted loader, the CA).

A component's *image* is a canonical archive of exactly what it runs: its package, the first-party
modules it imports (found by reading the source with ``ast``), the measuring code itself and the
locked dependency list. Its *measurement* is the SHA-384 of the archive: what the simulated TEE
reports as MRTD, what ``enclava measure`` prints, and (as ``measurement_digest``) what the on-chain
allow-list holds. This package reads files only; it imports no service. See docs/MEASUREMENT.md.
"""

from enclava.measure._archive import canonical_tar
from enclava.measure._image import (
    build_image,
    image_contents,
    image_files,
    image_modules,
    measure,
    measure_archive,
)
from enclava.measure._running import foreign_modules, running_measurement, running_root
from enclava.measure.components import COMPONENTS, FIRST_PARTY, LOCK_FILE, Component, component
from enclava.measure.errors import (
    ForeignModuleLoaded,
    ImageFileMissing,
    ImagePathInvalid,
    ImageSourceInvalid,
    MeasureError,
    UnknownComponent,
)

__all__ = [
    "build_image",
    "image_files",
    "image_modules",
    "image_contents",
    "measure",
    "measure_archive",
    "canonical_tar",
    "running_measurement",
    "running_root",
    "foreign_modules",
    "COMPONENTS",
    "FIRST_PARTY",
    "LOCK_FILE",
    "Component",
    "component",
    "MeasureError",
    "UnknownComponent",
    "ImageFileMissing",
    "ImageSourceInvalid",
    "ImagePathInvalid",
    "ForeignModuleLoaded",
]
