"""Content storage: encrypted blobs on IPFS, verified by CID and SHA-256 on the way back."""

from enclava.storage.content_store import IpfsContentStore, ObjectStat, Progress, StoredObject

__all__ = ["IpfsContentStore", "ObjectStat", "Progress", "StoredObject"]
