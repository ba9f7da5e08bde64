"""What an action does in Microsoft 365, for confirmations (`lockstep.console.effects`).

{% load effects %}<p>{% suspend_effect person %}</p>
"""

from __future__ import annotations

from django import template

from lockstep.console import effects
from lockstep.directory.models import Group, User

register = template.Library()


@register.simple_tag
def suspend_effect(user: User) -> str:
    return effects.suspend(user)


@register.simple_tag
def unbind_effect(user: User, directory: str) -> str:
    return effects.unbind(user, directory)


@register.simple_tag
def delete_user_effect(user: User) -> str:
    return effects.delete_user(user)


@register.simple_tag
def unbind_group_effect(group: Group, directory: str) -> str:
    return effects.unbind_group(group, directory)


@register.simple_tag
def delete_group_effect(group: Group) -> str:
    return effects.delete_group(group)
