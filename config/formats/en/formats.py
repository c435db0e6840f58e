"""The one way the UI writes dates and times (issue 17): ``6 Dec 2026`` and ``6 Dec 2026 04:42``, 24-hour,
day before month. Django reads these for ``{{ value|date }}``, a datetime shown as is, and the admin;
the ``when`` and ``day`` filters in ``revops_ui`` use the same two formats."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "M Y"
