"""Server-rendered pages. Thin: lookups and decisions live in the service modules."""

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from restore.accounts.backends import check_sign_in_name
from restore.accounts.permissions import identity_of, may_use_files
from restore.helpdesk.subject import subject_of
from restore.restores import service as jobs
from restore.restores.messages import translated


class SignInNameField(forms.CharField):
    """Text as typed: the name is judged (and a refusal audited) by check_sign_in_name, not by
    the field's own validators, which would refuse NUL or length silently."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = []


class SignInForm(AuthenticationForm):
    username = SignInNameField(
        label=gettext_lazy("User name"),
        help_text="alice, CORP\\alice or alice@corp.example.test",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )

    def clean(self):
        typed = self.cleaned_data.get("username")
        if typed and self.cleaned_data.get("password") and check_sign_in_name(self.request, typed) is None:
            raise self.get_invalid_login_error()
        return super().clean()

    def get_invalid_login_error(self):
        failure = getattr(self.request, "signin_failure", None)
        message = translated(failure["message"]) if failure else _("Wrong user name or password.")
        return forms.ValidationError(message, code="invalid_login")


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


def locked_out(request, credentials=None, *args, **kwargs):
    """django-axes: too many failed sign-ins for this name or this address."""
    message = _("Too many failed sign-ins. Try again later or contact the helpdesk.")
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


@login_required
def home(request):
    """The person's folders; while a helpdesk member acts for someone, that person's folders."""
    ident = identity_of(request.user)
    uses_files = may_use_files(ident)
    subject = subject_of(request) if uses_files else None
    folders = subject.roots if subject else (ident.roots if ident else [])
    recent = jobs.jobs_visible_to(subject)[:5] if subject else None  # while acting: the person's restores
    return render(request, "restore/home.html", {"identity": ident, "folders": folders, "recent": recent})


@login_required
def me(request):
    return render(request, "restore/me.html", {"identity": identity_of(request.user)})


def healthz(request):
    """Liveness for the load balancer and compose: the database answers."""
    from django.db import connection

    connection.ensure_connection()
    return JsonResponse({"status": "ok"})
