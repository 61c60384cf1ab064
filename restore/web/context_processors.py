from django.conf import settings

from restore.helpdesk.acting import resolve


def portal(request):
    user = getattr(request, "user", None)
    ident = getattr(user, "identity", None) if user is not None and user.is_authenticated else None
    acting = resolve(request).acting  # a helpdesk member acting for someone: the banner
    return {"identity": ident, "roles": ident.roles if ident else [], "acting": acting,
            "acting_content_blind": acting is not None and (acting.content_blind or settings.HELPDESK_CONTENT_BLIND)}
