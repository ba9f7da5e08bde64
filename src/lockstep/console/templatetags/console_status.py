"""`{% directory_banner as banner %}`: the worst state of the organization's directories, for the
banner on every Admin Portal page (one query: `m365.directory_status.organization_states`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from lockstep.console.access import MFA_PASSED
from lockstep.m365.directory_status import DOWN, OK, DirectoryState, organization_states, worst
from lockstep.m365.models import Directory

register = template.Library()

SHOWN = 3  # directories named in the banner; the rest are counted


@dataclass(frozen=True)
class Banner:
    level: str  # attention, down
    directories: list[tuple[Directory, DirectoryState]]  # the worst ones, first SHOWN
    more: int  # how many more are as bad

    @property
    def heading(self) -> str:
        if self.level == DOWN:
            return "Microsoft 365 sync is not working"
        return "Microsoft 365 sync needs attention"


@register.simple_tag(takes_context=True)
def directory_banner(context: dict[str, Any]) -> Banner | None:
    request = context.get("request")
    if request is None or not request.user.is_authenticated or not request.session.get(MFA_PASSED):
        return None
    organization_id = getattr(request.user, "organization_id", None)
    if organization_id is None:
        return None
    states = organization_states(organization_id)
    level = worst([state for _, state in states])
    if level == OK:
        return None
    bad = [(d, s) for d, s in states if s.level == level]
    return Banner(level=level, directories=bad[:SHOWN], more=max(0, len(bad) - SHOWN))
