import hashlib

from rest_framework import authentication, exceptions


class HashedTokenAuthentication(authentication.BaseAuthentication):
    """A bearer token looked up by its SHA-256 (one SELECT), as the project's does."""

    def authenticate(self, request):
        from .models import Token

        header = authentication.get_authorization_header(request).split()
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("no token")
        token = Token.objects.filter(key_hash=hashlib.sha256(header[1]).hexdigest()).first()
        if token is None:
            raise exceptions.AuthenticationFailed("bad token")
        return None, token
