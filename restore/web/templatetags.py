"""Template library "portal" (settings.TEMPLATES "libraries"): ``{% load portal %}``."""

from django import template
from django.utils.translation import gettext_lazy as _

from restore.models import Role
from restore.restores.messages import translated

register = template.Library()


@register.filter(name="translated")
def translated_filter(message) -> str:
    """A message a service wrote (an item's note, a plan's problem) in the reader's language."""
    return translated(message) if message else ""


KINDS = {"profile": _("Profile"), "data": _("Data"), "home": _("Home folder")}


@register.filter
def root_kind(kind: str) -> str:
    """A root's kind (USER_ROOTS names it) as a heading: the usual kinds translated, others as named."""
    known = KINDS.get(kind)
    return str(known) if known is not None else (kind[:1].upper() + kind[1:])


@register.filter
def role(value: str) -> str:
    """A role (Role) by its label in the reader's language; an unknown one as it is."""
    return str(Role(value).label) if value in Role.values else value
