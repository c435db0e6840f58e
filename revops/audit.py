"""The audit log: services call ``change_record_create`` inside their own transaction."""

import datetime
import decimal
import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .jsonsafe import json_safe
from .middleware import audit_token_var, request_id_var
from .models import ChangeRecord


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        # Binary payloads (model artefacts) are recorded by size; their checksum lives beside them.
        return f"<{len(value)} bytes>"
    if hasattr(value, "code") and type(value).__name__ == "Country":
        return value.code
    return json_safe(value)


def model_snapshot(instance: models.Model) -> dict[str, Any]:
    """A JSON-safe dict of the instance's concrete fields (FKs by id, many-to-many by ids)."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in {"created", "updated"}:
            continue
        data[field.attname] = _json_value(field.value_from_object(instance))
    if instance.pk:
        for field in instance._meta.many_to_many:
            data[field.name] = sorted(obj.pk for obj in getattr(instance, field.name).all())
    return data


def change_record_create(
    *,
    actor,
    action: str,
    instance: models.Model | None = None,
    model: type[models.Model] | None = None,
    object_id: str = "",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
):
    """Write one audit row. Call it inside the service's transaction."""
    target_model = model or type(instance)
    return ChangeRecord.objects.create(
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        token_id=audit_token_var.get(),
        action=action,
        object_type=ContentType.objects.get_for_model(target_model),
        object_id=str(instance.pk) if instance is not None else object_id,
        object_repr=(str(instance) if instance is not None else object_repr)[:200],
        before=before,
        after=after,
        request_id=request_id_var.get(),
    )


def diff(before: dict | None, after: dict | None) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ between two snapshots."""
    before, after = before or {}, after or {}
    return {
        k: (before.get(k), after.get(k))
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }
