"""The subject's page session: it holds the id of a phone token, checked on every request.

Activating on the page issues the same kind of token as the phone API (revoked by logout, by staff
or by withdrawal); the session cookie only names it, so revoking the token ends the session.
"""

from django.conf import settings
from django.utils import translation

from screening.models import AccessToken, Subject

SESSION_KEY = "subject_token_id"


def sign_in(request, token: AccessToken) -> None:
    """Start a fresh session (a new key: no fixation) for the token's subject."""
    request.session.flush()
    request.session[SESSION_KEY] = str(token.pk)
    request.session.set_expiry(settings.SUBJECT_SESSION_SECONDS)


def current_token(request) -> AccessToken | None:
    """Return the session's active subject token, or None."""
    token_id = request.session.get(SESSION_KEY)
    if not token_id:
        return None
    token = (
        AccessToken.objects.active()
        .select_related("subject__site")
        .filter(pk=token_id, subject__isnull=False, subject__status=Subject.Status.ACTIVE)
        .first()
    )
    return token


def page_language(request, subject: Subject | None = None) -> str:
    """The language of the page's words, among LANGUAGES: the subject's, else ``?lang=``, else
    the browser's (Accept-Language)."""
    wanted = subject.language if subject is not None else request.GET.get("lang")
    if wanted:
        try:
            return translation.get_supported_language_variant(wanted.replace("_", "-").lower())
        except LookupError:
            pass
    return translation.get_language_from_request(request)
