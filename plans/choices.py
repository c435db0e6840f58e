from django.db import models


class PeriodKind(models.TextChoices):
    """How long a revenue plan's period is: a quarter (three months from its first day) or a month."""

    QUARTER = "quarter", "Quarter"
    MONTH = "month", "Month"


PERIOD_MONTHS = {PeriodKind.QUARTER: 3, PeriodKind.MONTH: 1}
