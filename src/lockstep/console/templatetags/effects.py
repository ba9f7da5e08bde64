"""What an action does in Microsoft 365, for confirmations (`lockstep.console.effects`).

{% load effects %}<p>{% suspend_effect person %}</p>
"""

from __future__ import annotations

from django import template

from lockstep.console import effects

register = template.Library()


register.simple_tag(effects.suspend, name="suspend_effect")
register.simple_tag(effects.unbind, name="unbind_effect")
register.simple_tag(effects.delete_user, name="delete_user_effect")
register.simple_tag(effects.unbind_group, name="unbind_group_effect")
register.simple_tag(effects.delete_group, name="delete_group_effect")
