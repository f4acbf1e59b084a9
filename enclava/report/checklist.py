"""The result of verifying a report: named checks, each ok / failed / skipped with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "Checklist", "OK", "FAIL", "SKIPPED"]

OK, FAIL, SKIPPED = "ok", "fail", "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, FAIL or SKIPPED
    reason: str
    title: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title or self.name,
            "status": self.status,
            "ok": self.ok,
            "reason": self.reason,
        }


@dataclass
class Checklist:
    order_id: str
    items: list[Check] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """True when no check failed (a skipped check, e.g. no ciphertext given, does not fail)."""
        return bool(self.items) and all(item.status != FAIL for item in self.items)

    def item(self, name: str) -> Check:
        return next(item for item in self.items if item.name == name)

    def add(
        self, name: str, passed: bool, reason_ok: str, reason_fail: str, title: str = ""
    ) -> None:
        self.items.append(
            Check(name, OK if passed else FAIL, reason_ok if passed else reason_fail, title)
        )

    def skip(self, name: str, reason: str, title: str = "") -> None:
        self.items.append(Check(name, SKIPPED, reason, title))

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "valid": self.valid,
            "items": [i.to_dict() for i in self.items],
            "report": self.report,
        }
