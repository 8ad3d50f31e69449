"""One date format on every staff screen (``FORMAT_MODULE_PATH``; Django's own English formats
would win over the settings otherwise): ``7 Dec 2026``, ``7 Dec 2026, 14:05``, ``14:05``.
Templates use ``|date`` for a day, ``|date:"DATETIME_FORMAT"`` for a moment and ``|time`` for a
time of day, never a format of their own."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "M Y"
