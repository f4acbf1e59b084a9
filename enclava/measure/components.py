"""Which components have an image, and the fixed parts every image holds."""

from __future__ import annotations

from dataclasses import dataclass

from enclava.measure.errors import UnknownComponent

__all__ = ["Component", "COMPONENTS", "FIRST_PARTY", "LOCK_FILE", "MEASURE_PACKAGE", "component"]

#: top-level packages whose modules are the project's own code (followed through imports)
FIRST_PARTY = (
    "enclava",
    "trusted_loader",
    "certification_authority",
    "provider_node",
    "marketplace_api",
    "engines",
)
#: the locked dependency list: the third-party code every image runs with, pinned by hash
LOCK_FILE = "requirements/app.lock"
#: the code that measures a running component is itself part of every image
MEASURE_PACKAGE = "enclava.measure"


@dataclass(frozen=True)
class Component:
    """A program that runs in its own TEE: its name and its entry package (measured whole).

    ``extra_packages`` are other first-party packages the image ships and the component runs
    without importing them (a program it starts as a process): each is measured whole too, with
    the first-party modules it imports, like the entry package.
    """

    name: str
    package: str
    extra_packages: tuple[str, ...] = ()

    @property
    def packages(self) -> tuple[str, ...]:
        """The entry package, then the extra ones: every package measured whole."""
        return (self.package, *self.extra_packages)


COMPONENTS: dict[str, Component] = {
    # the service enclave starts the serving engine, sandboxed, from the loader's own image
    "loader": Component("loader", "trusted_loader", extra_packages=("engines.chat_server",)),
    "ca": Component("ca", "certification_authority"),
}


def component(name: str | Component) -> Component:
    """The component called ``name``; refuses names that have no image."""
    if isinstance(name, Component):
        return name
    try:
        return COMPONENTS[name]
    except KeyError:
        known = ", ".join(sorted(COMPONENTS))
        raise UnknownComponent(f"no component {name!r} has an image (known: {known})") from None
