def portal(request):
    user = getattr(request, "user", None)
    ident = getattr(user, "identity", None) if user is not None and user.is_authenticated else None
    return {"identity": ident, "roles": ident.roles if ident else []}
