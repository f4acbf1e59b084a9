"""Enclava: the library and CLI every party shares.

Subpackages: ``devnet`` (local chain, IPFS and Redis), ``storage`` (content store on Kubo),
``chain`` (EVM client), ``attestation`` (evidence formats); errors in :mod:`enclava.errors`.
"""

from enclava.errors import EnclavaError

__all__ = ["EnclavaError", "__version__"]
__version__ = "0.1.0"
