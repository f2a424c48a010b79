"""Value rules shared by customers, contacts, leads, duplicate checks and the call center.

Keys are what two records must share to be the same customer: a phone number without formatting or the
mainland country code, a lower-cased e-mail address, a company name without punctuation, width variants or
legal-form suffixes.
"""

import re
import unicodedata

_PHONE_FORMATTING = re.compile(r"[\s\-().\u3000（）]")
# A mobile (1xx, 11 digits), a landline with area code (0xx...), a short local number, or E.164 abroad.
_PHONE_SHAPE = re.compile(r"^(\+\d{8,15}|\d{5,15})(#\d{1,6})?$")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Longest first: "股份有限公司" must go before "有限公司".
_COMPANY_SUFFIXES = sorted(
    [
        "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "分公司", "总公司",
        "co ltd", "co., ltd.", "co.,ltd.", "co. ltd", "company limited", "limited", "ltd", "inc", "corp",
        "corporation", "llc", "gmbh", "plc", "co",
    ],
    key=len,
    reverse=True,
)
_COMPANY_PUNCTUATION = re.compile(r"[\s\.,，。·・'\"“”‘’()（）\[\]【】&\-_/]+")


def clean_text(value):
    """Strip surrounding whitespace; an empty string becomes ``None``."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def phone_key(value):
    """Digits of a phone number (keeping a leading ``+`` for numbers abroad and an ``#extension``).

    ``+86 138-0013-8000``, ``0086 13800138000`` and ``138 0013 8000`` all give ``13800138000``.
    Returns ``None`` for an empty value; raises ``ValueError`` for something that is not a phone number.
    """
    value = clean_text(value)
    if value is None:
        return None
    digits = _PHONE_FORMATTING.sub("", unicodedata.normalize("NFKC", value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE_SHAPE.match(digits):
        raise ValueError(f"{value!r} is not a phone number")
    return digits


def email_key(value):
    value = clean_text(value)
    if value is None:
        return None
    value = unicodedata.normalize("NFKC", value).lower()
    if not _EMAIL_SHAPE.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def company_key(value):
    """A company name reduced for matching: NFKC width folding, case folding, no punctuation or legal suffix.

    ``杭州茶叶有限公司``, ``杭州茶叶 有限公司`` and ``杭州茶叶（有限公司）`` all give ``杭州茶叶``.
    """
    value = clean_text(value)
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", value).casefold()
    stripped = True
    while stripped:
        stripped = False
        trimmed = text.rstrip(" .,)(（）")
        for suffix in _COMPANY_SUFFIXES:
            if trimmed.endswith(suffix) and len(trimmed) > len(suffix):
                text = trimmed[: -len(suffix)]
                stripped = True
                break
    return _COMPANY_PUNCTUATION.sub("", text)
