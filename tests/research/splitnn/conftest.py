"""The session's freshly built model folder, the same one tests/splitnn uses."""

from tests.splitnn.conftest import model_dir

__all__ = ["model_dir"]
