"""Scheduler's schedule expressions (rate, cron, at) and the template's dates, read as Scheduler reads them."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


def instant(text: str) -> datetime:
    """A template date (ISO 8601); one without a zone is UTC, as Scheduler reads StartDate and EndDate."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ScheduleExpression(Protocol):
    def after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment` (UTC); None when there is none."""
        ...


_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Rate:
    """rate(N unit): every `period`, counted from `anchor` (when the schedule started)."""

    period: timedelta
    anchor: datetime

    @classmethod
    def parse(cls, expression: str, anchor: datetime) -> Rate:
        match = _RATE.fullmatch(expression.strip())
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"not a rate expression: {expression!r}")
        return cls(int(match.group(1)) * _UNITS[match.group(2).removesuffix("s")], anchor)

    def after(self, moment: datetime) -> datetime:
        if moment < self.anchor:
            return self.anchor + self.period
        return self.anchor + (((moment - self.anchor) // self.period) + 1) * self.period


@dataclass(frozen=True)
class At:
    """at(yyyy-mm-ddThh:mm:ss): once, in the schedule's time zone."""

    moment: datetime

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> At:
        match = re.fullmatch(r"at\(\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\s*\)", expression.strip())
        if not match:
            raise ValueError(f"not an at expression: {expression!r}")
        local = datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone))
        return cls(local.astimezone(UTC))

    def after(self, moment: datetime) -> datetime | None:
        return self.moment if self.moment > moment else None


_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}  # EventBridge counts from Sunday
# (name, lowest, highest, names) of the six fields, in the order the expression gives them.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS),
    ("year", 1970, 2199, {}),
)


def _cron_value(text: str, names: dict[str, int], lowest: int, highest: int) -> int:
    value = names[text.upper()] if text.upper() in names else int(text)
    if not lowest <= value <= highest:
        raise ValueError(f"{value} is outside {lowest}-{highest}")
    return value


def _cron_field(text: str, lowest: int, highest: int, names: dict[str, int]) -> frozenset[int]:
    """The values one field allows: `*`, `?`, values, ranges, lists and steps (`L`, `W` and `#` are not supported)."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in {"*", "?"}:
            first, last = lowest, highest
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = _cron_value(start, names, lowest, highest), _cron_value(end, names, lowest, highest)
        else:
            first = _cron_value(base, names, lowest, highest)
            last = highest if step_text else first  # "5/15": from 5, every 15
        if step < 1 or first > last:
            raise ValueError(f"cannot read {part!r}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """cron(minutes hours day-of-month month day-of-week year), EventBridge's six fields, in a time zone."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None when the day-of-month is "?": the day-of-week decides
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday; None when the day-of-week is "?"
    years: frozenset[int]
    timezone: str = "UTC"

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> Cron:
        match = re.fullmatch(r"cron\((.*)\)", expression.strip())
        fields = match.group(1).split() if match else []
        if len(fields) != len(_FIELDS):
            raise ValueError(f"not a six-field cron expression: {expression!r}")
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
        try:
            values = [
                _cron_field(text, lowest, highest, names)
                for text, (_, lowest, highest, names) in zip(fields, _FIELDS, strict=True)
            ]
        except ValueError as error:
            raise ValueError(f"{expression!r}: {error} (L, W and # are not supported locally)") from error
        minutes, hours, days, months, weekdays, years = values
        return cls(
            minutes=minutes,
            hours=hours,
            days=None if fields[2] == "?" else days,
            months=months,
            weekdays=None if fields[4] == "?" else weekdays,
            years=years,
            timezone=timezone,
        )

    def _day_matches(self, day: datetime) -> bool:
        if self.days is not None:
            return day.day in self.days
        return self.weekdays is not None and (day.weekday() + 1) % 7 + 1 in self.weekdays

    def after(self, moment: datetime) -> datetime | None:
        """Walks forward field by field, jumping a whole year, month, day or hour when that field cannot match."""
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        while local.year <= max(self.years):
            if local.year not in self.years:
                local = local.replace(year=local.year + 1, month=1, day=1, hour=0, minute=0)
            elif local.month not in self.months:
                month_ahead = local.replace(day=28) + timedelta(days=4)  # a day of the next month
                local = month_ahead.replace(day=1, hour=0, minute=0)
            elif not self._day_matches(local):
                local = (local + timedelta(days=1)).replace(hour=0, minute=0)
            elif local.hour not in self.hours:
                local = (local + timedelta(hours=1)).replace(minute=0)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                return local.astimezone(UTC)
        return None


def schedule_expression(expression: str, anchor: datetime, timezone: str = "UTC") -> ScheduleExpression:
    """A rate(...), cron(...) or at(...) expression; rates count from `anchor`."""
    kind = expression.strip().split("(", 1)[0]
    if kind == "rate":
        return Rate.parse(expression, anchor)
    if kind == "cron":
        return Cron.parse(expression, timezone)
    if kind == "at":
        return At.parse(expression, timezone)
    raise ValueError(f"not a schedule expression: {expression!r}")
