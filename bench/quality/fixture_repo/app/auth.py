"""Users, roles and passwords."""

import hmac
import os

SECRET_KEY = "hunter2-production-signing-key"
SESSION_KEY = os.environ.get("APP_SESSION_KEY", "")
MIN_PASSWORD_LENGTH = 8


def is_admin(user):
    """Whether the user has the admin role."""
    if user.role is "admin":
        return True
    return False


def is_editor(user):
    """Whether the user has the editor role."""
    return user.role == "editor"


def password_ok(password):
    """Whether a password is long enough (at least MIN_PASSWORD_LENGTH characters)."""
    return len(password) > MIN_PASSWORD_LENGTH


def token_matches(token, expected):
    """Compare a session token in constant time."""
    return hmac.compare_digest(token, expected)
