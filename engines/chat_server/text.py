"""Turning a request's generated token ids into text as they come: the text released so far never
changes, a stop string ends it (and is not part of it), and nothing that may still become a stop
string or a multi-byte character is released early."""

from __future__ import annotations

from typing import Any

__all__ = ["TextTracker"]

_INCOMPLETE = "\ufffd"  # what a byte-level tokenizer decodes half a UTF-8 character to


class TextTracker:
    """Feed token ids with :meth:`add`; each call answers the new text and whether a stop string
    ended the completion; :meth:`flush` releases what was held back when the completion ends."""

    def __init__(self, tokenizer: Any, stop: tuple[str, ...] = ()) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(s for s in stop if s)
        self._ids: list[int] = []
        # incremental decoding (as vLLM does): only the ids from ``_prefix`` on are decoded
        # again; the text of ``_prefix:_read`` is known, what follows is new
        self._prefix = 0
        self._read = 0
        self._released = ""
        self.text = ""

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def _advance(self, final: bool) -> None:
        known = self._decode(self._ids[self._prefix : self._read])
        fresh = self._decode(self._ids[self._prefix :])
        if len(fresh) > len(known) and (final or not fresh.endswith(_INCOMPLETE)):
            self.text += fresh[len(known) :]
            self._prefix, self._read = self._read, len(self._ids)

    def _release(self, upto: str) -> str:
        if not upto.startswith(self._released) or len(upto) <= len(self._released):
            return ""
        delta = upto[len(self._released) :]
        self._released = upto
        return delta

    def add(self, token_id: int) -> tuple[str, bool]:
        self._ids.append(token_id)
        self._advance(final=False)
        for_search = max(0, len(self._released) - max((len(s) for s in self._stop), default=0))
        hits = [i for i in (self.text.find(s, for_search) for s in self._stop) if i >= 0]
        if hits:
            self.text = self.text[: min(hits)]
            return self._release(self.text), True
        safe = self.text.rstrip(_INCOMPLETE)
        held = 0
        for stop in self._stop:  # the longest tail of ``safe`` that begins a stop string
            for size in range(min(len(stop) - 1, len(safe)), held, -1):
                if safe.endswith(stop[:size]):
                    held = size
                    break
        return self._release(safe[: len(safe) - held]), False

    def flush(self) -> str:
        self._advance(final=True)
        return self._release(self.text)
