"""Alertmanager's webhook body (payload version 4), validated strictly where Suture uses it.

Fields Suture reads are typed and checked; anything else Alertmanager sends
(``notification_reason`` and ``routeLabels`` from 0.32/0.34 on, or fields of
future versions) is accepted and kept as it came. Label and annotation values
are untrusted text: these models only check their shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Alertmanager writes a firing alert's endsAt as Go's zero time.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_LABELS = 256
MAX_ALERTNAME = 253


class _AlertmanagerModel(BaseModel):
    """camelCase on the wire, strict types, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="allow", strict=True
    )


class AlertmanagerAlert(_AlertmanagerModel):
    """One alert of a notification."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=MAX_LABELS)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=MAX_LABELS)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = Field(default="", max_length=2048, alias="generatorURL")
    # Alertmanager's fingerprint is 16 hex digits; it names the Remediation, so nothing else is accepted.
    fingerprint: str = Field(pattern=r"^[0-9a-f]{1,64}$")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Every time in UTC; a zone-less time, or one that leaves the calendar in UTC, is refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a time needs a zone (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the time is out of range") from None

    @field_validator("labels")
    @classmethod
    def _alertname(cls, value: dict[str, str]) -> dict[str, str]:
        """The alertname names the Remediation's alert (at most 253 characters, as in its schema)."""
        if len(value.get("alertname", "")) > MAX_ALERTNAME:
            raise ValueError(f"the alertname label is longer than {MAX_ALERTNAME} characters")
        return value

    @property
    def name(self) -> str:
        """The ``alertname`` label, or empty."""
        return self.labels.get("alertname", "")

    def resolved_at(self) -> datetime | None:
        """When the alert resolved: its endsAt unless that is Go's zero time."""
        if self.ends_at is None or self.ends_at <= GO_ZERO_TIME:
            return None
        return self.ends_at


class AlertmanagerPayload(_AlertmanagerModel):
    """A webhook notification, payload version 4."""

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = Field(max_length=1024)
    alerts: list[AlertmanagerAlert] = Field(max_length=10_000)
    group_key: str = Field(default="", max_length=65_536)
    group_labels: dict[str, str] = Field(default_factory=dict)
    common_labels: dict[str, str] = Field(default_factory=dict)
    common_annotations: dict[str, str] = Field(default_factory=dict)
    external_url: str = Field(default="", max_length=4096, alias="externalURL")
    truncated_alerts: int = Field(default=0, ge=0)


__all__ = ["GO_ZERO_TIME", "AlertmanagerAlert", "AlertmanagerPayload"]
