"""Value rules shared by customers, contacts, leads, duplicate checks and the call center.

Keys are what two records must share to be the same customer: a phone number without formatting or the
mainland country code, a lower-cased e-mail address, a company name without punctuation, width variants or
legal-form suffixes.
"""

import re
import unicodedata

_PHONE_FORMATTING = re.compile(r"[\s\-().\u3000（）]")
# A mobile (1xx, 11 digits), a landline with area code (0xx...), a short local number, or E.164 abroad.
_PHONE_SHAPE = re.compile(r"^(\+[0-9]{8,15}|[0-9]{5,15})(#[0-9]{1,6})?$")  # ASCII digits only
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_CN_PREFIXES = ("+86", "0086")
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
_LATIN_SUFFIX = re.compile(r"[a-z]")
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
    national = False
    while digits.startswith(_CN_PREFIXES):
        digits = digits[3:] if digits.startswith("+") else digits[4:]
        national = True
    if national and digits and not digits.startswith("0") and not _CN_MOBILE.match(digits.split("#")[0]) \
            and len(digits.split("#")[0]) >= 9:
        digits = "0" + digits  # a landline written +86 571 ... is 0571 ... at home
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
                before = trimmed[-len(suffix) - 1]
                if _LATIN_SUFFIX.match(suffix) and (before.isascii() and before.isalnum()):
                    continue  # a Latin suffix counts only as a whole word: "Costco" keeps its "co"
                text = trimmed[: -len(suffix)]
                stripped = True
                break
    return _COMPANY_PUNCTUATION.sub("", text)



def phone_e164(value, region="CN"):
    """``(E.164 number, is_mobile)`` for a phone number written as people write it, or ``(None, False)``.

    Plain mainland mobiles (``13800138000``, ``+86 138-0013-8000``) take a fast path; everything else is
    parsed by ``phonenumbers`` with ``region`` as the default country. Raises ``ValueError`` for text that
    cannot be a phone number. A fixed line (a switchboard a whole company shares) has ``is_mobile`` False.
    """
    digits = phone_key(value)
    if digits is None:
        return None, False
    if _CN_MOBILE.match(digits) and region == "CN":
        return "+86" + digits, True
    import phonenumbers

    try:
        parsed = phonenumbers.parse(value if value.strip().startswith("+") else digits, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{value!r} is not a phone number")
    kind = phonenumbers.number_type(parsed)
    mobile = kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), mobile
