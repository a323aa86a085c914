"""Room codes a class reads off a projector, and the secret keys behind them.

A room code is six characters of Crockford's base 32 (digits and capitals without I, L,
O and U), written `K7Q-M2X`. What a person types is read generously: lower case,
spaces and dashes are ignored, and O, I and L read as 0, 1 and 1, so no character of a
code can be mistaken for another.

Why six: 32⁶ is about 1.07 × 10⁹ codes. A client may try `LSTM_EXPLORER_ROOM_JOIN_FAILURES`
(10) wrong codes a minute, 14,400 a day; with 1,000 rooms open at once, one client finds
some room with odds of 1,000 × 14,400 / 1.07 × 10⁹, about 1.3 % a day, and all it finds
is a class's loss curves. Five characters would make that 43 %.

Keys are `secrets.token_urlsafe` strings: the teacher's has 192 bits, a student's 144.
The database keeps only their SHA-256 (a key is random, so no slow hash is needed), and
a teacher key is checked with a constant-time comparison.

Example:

>>> normalize_code(" k7q m2o ")
'K7Q-M20'
>>> len(new_code()), new_code()[3]
(7, '-')
>>> verify_key("wrong", key_hash("right")), verify_key("right", key_hash("right"))
(False, True)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Crockford's base 32: no I, L, O or U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A new random room code, e.g. `'K7Q-M2X'` (not checked against open rooms)."""
    text = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{text[:3]}-{text[3:]}"


def normalize_code(text: object) -> str | None:
    """The code a person meant, written `XXX-XXX`, or `None` when it cannot be one.

    Args:
        text: what was typed or read from a link.

    Example:

    >>> normalize_code("k7q-m2x"), normalize_code("K7Q-M2"), normalize_code(None)
    ('K7Q-M2X', None, None)
    """
    if not isinstance(text, str):
        return None
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(char not in ALPHABET for char in cleaned):
        return None
    return f"{cleaned[:3]}-{cleaned[3:]}"


def new_teacher_key() -> str:
    """A new teacher key: 192 random bits, URL-safe text."""
    return secrets.token_urlsafe(24)


def new_student_token() -> str:
    """A new student token: 144 random bits, URL-safe text."""
    return secrets.token_urlsafe(18)


def key_hash(key: str) -> str:
    """The SHA-256 of a key, in hex: what the database keeps instead of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def verify_key(key: object, stored_hash: str) -> bool:
    """Whether `key` is the key whose hash is `stored_hash`, compared in constant time."""
    if not isinstance(key, str) or not key:
        return False
    return hmac.compare_digest(key_hash(key), stored_hash)
