"""An organisation's reminder schedule: steps in days from the due date (negative:
before it), each by e-mail to the members who may see the invoice's account or to
the organisation's admins only, or by post (a letter the provider pays for). Written
one step a line, as the operators' form takes it: ``-7``, ``1``, ``15 admins``,
``30 post``."""

from __future__ import annotations

from dataclasses import dataclass

AUDIENCES = ("members", "admins", "post")
DEFAULT = ["-7", "1", "15 admins"]
EARLIEST, LATEST = -60, 365


@dataclass(frozen=True, order=True)
class Step:
    days: int  # from the due date: -7 is a week before, 15 a fortnight after
    audience: str = "members"

    def line(self) -> str:
        return str(self.days) if self.audience == "members" else f"{self.days} {self.audience}"


class BadSchedule(ValueError):
    """A line of a schedule that is not a step; the message names it."""


def parse(lines: list[str]) -> list[Step]:
    """The steps of ``lines``, in order; :class:`BadSchedule` names the first wrong one."""
    steps: dict[int, Step] = {}
    for line in lines:
        words = line.split()
        if not words:
            continue
        try:
            days = int(words[0])
        except ValueError:
            raise BadSchedule(f"{line!r}: a number of days first (-7, 1, 15)") from None
        audience = words[1] if len(words) > 1 else "members"
        if len(words) > 2 or audience not in AUDIENCES:
            raise BadSchedule(f"{line!r}: after the days, 'members', 'admins' or 'post' only")
        if not EARLIEST <= days <= LATEST:
            raise BadSchedule(f"{line!r}: from {EARLIEST} to {LATEST} days")
        if days in steps:
            raise BadSchedule(f"{line!r}: two steps on day {days}")
        steps[days] = Step(days, audience)
    return sorted(steps.values())
