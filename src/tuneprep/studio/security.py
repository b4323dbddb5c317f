"""Passwords, the session secret, session tokens, CSRF tokens, HTTP headers (the login rate limit: ratelimit.py).

Nothing here has a default credential or key: passwords and the secret are generated with
``secrets`` and shown/stored once; the server refuses to start without a proper secret file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from tuneprep.studio.db import StudioError

MIN_SECRET_BYTES = 32
SECRET_ENV = "TUNEPREP_STUDIO_SECRET_FILE"

# Applied to every response. No inline script or style anywhere, so 'self' is all we allow.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # not no-referrer: with it browsers send "Origin: null" on form posts, defeating the Origin check
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# --------------------------------------------------------------------------------------------
# passwords (argon2id, the library's current parameters)

def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def generate_password() -> str:
    """A random password (~128 bits), shown once to whoever created the account."""
    return secrets.token_urlsafe(16)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


_DUMMY_HASH: str | None = None


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password. With no stored hash (unknown user) a dummy hash is verified anyway so
    that response time does not reveal which user names exist."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    global _DUMMY_HASH
    if stored_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
        stored_hash, ok_if_match = _DUMMY_HASH, False
    else:
        ok_if_match = True
    try:
        return _hasher().verify(stored_hash, password) and ok_if_match
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------------------------
# the session secret

def secret_path(db_url: str, explicit: str | Path | None = None) -> Path:
    """Where the secret of this database lives: ``--secret-file``, else ``$TUNEPREP_STUDIO_SECRET_FILE``,
    else beside a SQLite file (``studio.db.secret``), else ``~/.config/tuneprep/studio-<hash>.secret``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(SECRET_ENV):
        return Path(os.environ[SECRET_ENV])
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".secret")
    tag = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tuneprep" / f"studio-{tag}.secret"


def write_secret(path: Path) -> None:
    """Create a new random secret with mode 0600 (created with that mode: never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(MIN_SECRET_BYTES) + "\n")


def load_secret(path: Path) -> bytes:
    """Read the secret; refuse a missing, short, or group/world-accessible one."""
    if not path.exists():
        raise StudioError(f"{path}: the session secret is missing; run `tuneprep studio init` first")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StudioError(f"{path}: the session secret has mode {mode:04o}; it must be 0600 (chmod 600 {path})")
    value = path.read_text().strip()
    if len(value) < 2 * MIN_SECRET_BYTES:
        raise StudioError(f"{path}: the session secret is too short ({len(value)} characters, need "
                          f"{2 * MIN_SECRET_BYTES}); generate one with `tuneprep studio init --new-secret`")
    return value.encode()


# --------------------------------------------------------------------------------------------
# session and CSRF tokens

def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: bytes, bound_to: str, purpose: str = "csrf") -> str:
    """A token tied to the session (or pre-login cookie): HMAC(secret, purpose + value)."""
    return hmac.new(secret, f"{purpose}:{bound_to}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, bound_to: str | None, given: str | None, purpose: str = "csrf") -> bool:
    if not bound_to or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to, purpose), given)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
