"""How the S3 layer and the auth middleware agree on who signed a request.

The S3 middleware sits left of auth: it parses the signature but holds no
secrets.  It sends one handshake sub-request through the rest of the pipeline
with an ``S3Authentication`` at ``environ[S3_AUTH]`` (not an ``HTTP_`` key: no
client can set it).  The auth middleware looks the access key's secret up
(its "secret by access key" lookup), calls ``verify(secret)`` and, when the
signature checks out, puts the user's identity into the handshake environ
and calls ``authenticated(account, environ)``; then it answers the handshake
itself.  The S3 middleware copies that identity into the S3 request, whose
sub-requests are then authorized like any Swift request of that user.  No
auth middleware, or one that does not know S3: nothing is accepted.
"""
from __future__ import annotations

from proxy.internal.subrequest import IDENTITY_KEYS
from proxy.s3.errors import S3Error
from proxy.s3.signing import Signature

S3_AUTH = "objstore.s3.auth"


class S3Authentication:
    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.access_key = signature.access_key
        self.account: str | None = None
        self.user: str | None = None
        self.identity: dict = {}
        self._verified = False
        self.error = S3Error("InvalidAccessKeyId", AWSAccessKeyId=signature.access_key)

    def verify(self, secret: str) -> bool:
        """Whether the request was signed with ``secret`` (constant-time compare)."""
        if self.signature.verify(secret):
            self._verified = True
            return True
        self.error = self.signature.mismatch()
        return False

    def authenticated(self, account: str, user: str, environ: dict) -> None:
        """Called by the auth middleware once ``verify`` passed: the Swift account the
        key's user works in, its name, and the environ holding its identity."""
        if not self._verified:
            raise RuntimeError("authenticated() before a successful verify()")
        self.account = account
        self.user = user
        self.identity = {key: environ[key] for key in IDENTITY_KEYS if key in environ}
