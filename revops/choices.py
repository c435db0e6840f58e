from django.db import models


class TeamKind(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    BDR = "bdr", "BDR/SDR"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    REVENUE_OPERATIONS = "revenue_operations", "Revenue operations"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    LEAD = "lead", "Lead"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    INGEST = "ingest", "Ingest events"


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    IMPORT = "import", "Imported"
    INGEST = "ingest", "Ingested"
    SEED = "seed", "Seeded"
    REVOKE = "revoke", "Revoked"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class VersionStatus(models.TextChoices):
    """Where a version of a versioned document stands (``revops.documents``). Rollback is not a status:
    it publishes a superseded version again."""

    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"
