"""Errors of measuring a component's image. Hierarchy::

    EnclavaError
    └── MeasureError             measure_error
        ├── UnknownComponent     measure_unknown_component  the component is neither ``loader`` nor
        │                                                   ``ca``
        ├── ImageFileMissing     measure_file_missing       the package folder or
        │                                                   ``requirements/app.lock`` is not under
        │                                                   the root
        ├── ImageSourceInvalid   measure_source_invalid     a first-party module does not parse
        ├── ImagePathInvalid     measure_path_invalid       a path the canonical archive cannot hold
        └── ForeignModuleLoaded  measure_foreign_module     the running process has loaded
                                                            first-party code that is not part of its
                                                            image

Outside errors (``OSError`` while reading a file, ``SyntaxError`` from ``ast``) are translated
with ``raise ... from exc``.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "MeasureError",
    "UnknownComponent",
    "ImageFileMissing",
    "ImageSourceInvalid",
    "ImagePathInvalid",
    "ForeignModuleLoaded",
]


class MeasureError(EnclavaError):
    code = "measure_error"
    hint = "Run `enclava measure --list` from a full checkout to see what the image holds."


class UnknownComponent(MeasureError):
    code = "measure_unknown_component"
    hint = "Measure one of the components `loader` or `ca`."


class ImageFileMissing(MeasureError):
    code = "measure_file_missing"
    hint = (
        "Measure from a checkout (or an installed tree) that holds the component's package and "
        "requirements/app.lock; pass it with --root."
    )


class ImageSourceInvalid(MeasureError):
    code = "measure_source_invalid"
    hint = (
        "Fix the syntax error in the named file; a module that does not parse cannot be measured."
    )


class ImagePathInvalid(MeasureError):
    code = "measure_path_invalid"
    hint = "Keep image paths relative, at most 255 bytes, with no folder name over 155 bytes."


class ForeignModuleLoaded(MeasureError):
    code = "measure_foreign_module"
    hint = (
        "Start the component as its own process (`python -m trusted_loader.main`, "
        "`python -m certification_authority.main`) so that only the code of its image is loaded."
    )
