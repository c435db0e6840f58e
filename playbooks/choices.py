from django.db import models


class PlayKind(models.TextChoices):
    """The tactics of DOMAIN.md's buying stages, and a plain task."""

    DISPLAY_ADS = "display_ads", "Display-ad audience"
    CONTENT_HUB = "content_hub", "Personalised content hub"
    ENRICH = "enrich_buying_team", "Enrich the buying team"
    CADENCE = "bdr_cadence", "BDR outbound cadence"
    MEETING = "meeting", "Book a meeting"
    DIRECT_MAIL = "direct_mail", "Direct mail"
    TASK = "task", "Task"


# Plays that act by audience (export or webhook), without a task for a person.
AUDIENCE_KINDS = {PlayKind.DISPLAY_ADS}
MAX_TOUCHES = 21


class StopCondition(models.TextChoices):
    REGRESSION = "regression", "The account falls back to an earlier stage"
    STAGE_EXIT = "stage_exit", "The account leaves the stage (either way)"
    OPPORTUNITY = "opportunity", "An opportunity opens, or the account falls back"
    NONE = "none", "Runs to its end"


class RunStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"
    SUPPRESSED = "suppressed", "Suppressed"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    STOPPED = "stopped", "Stopped"
