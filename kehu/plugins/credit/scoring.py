"""Credit scoring arithmetic (DOMAIN.md §3.2–3.4): points per criterion, the weighted score, the grade.

Exact: the weights are integers, so ``100 · score = Σ weight · points`` is an integer number of hundredths
compared with the grade thresholds × 100 (E11: points 6/2/8/2 are exactly 5.00 → B). The collection rate is
kept as a fraction (collected, sales) and compared by cross-multiplication, never divided in binary floating
point.
"""

from decimal import Decimal, InvalidOperation

import attrs

from kehu.core.db import money
from kehu.errors import Invalid

HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal(10) ** 13


@attrs.frozen
class Score:
    """The result of scoring: points per criterion, the score in hundredths, the grade and its terms."""

    points: dict  # criterion → points
    hundredths: int
    grade: str
    credit_limit: Decimal
    credit_days: int
    credit: bool
    flags: tuple = ()

    @property
    def score(self):
        """The weighted score as a Decimal with two places (740 → Decimal("7.40"))."""
        return (Decimal(self.hundredths) / HUNDRED).quantize(Decimal("0.01"))


def parse_amount(text, what="amount"):
    """A non-negative amount in yuan from text (``"1200000"``, ``"1,200,000.50"``, ``"120万"``)."""
    raw = str(text).strip().replace(",", "").replace("，", "")
    multiplier = Decimal(1)
    if raw.endswith("万"):
        raw, multiplier = raw[:-1], Decimal(10000)
    try:
        value = Decimal(raw) * multiplier
    except (InvalidOperation, ValueError):
        raise Invalid(f"{what} must be an amount in yuan, not {text!r}") from None
    if not value.is_finite() or value < 0:
        raise Invalid(f"{what} must be zero or more, not {text!r}")
    if value >= MAX_AMOUNT:  # storage is integer fen in a 64-bit column
        raise Invalid(f"{what} must be below {MAX_AMOUNT:,} yuan, not {text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise Invalid(f"{what} has at most two decimals (fen), not {text!r}")
    return money(value)


def parse_rate(text):
    """A collection rate: a fraction (``0.85``) or a percentage (``85%``), as a Decimal fraction ≥ 0."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = Decimal((raw[:-1] if percent else raw).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"collection rate must be a fraction (0.85) or a percentage (85%), not {text!r}") from None
    if not value.is_finite() or value < 0 or value > 1000:
        raise Invalid(f"collection rate must be between 0 and 1000 (100000%), not {text!r}")
    return value / HUNDRED if percent else value


def criterion_points(policy, sales, rate, receivables, strategic):
    """``(points, flags)`` for the four criteria; ``rate`` is a Decimal fraction or ``None`` (no sales),
    ``strategic`` a level or ``None`` (not rated). Missing data scores the lowest band and is flagged."""
    flags = []
    points = {"sales": policy.criteria["sales"].points(sales)}
    if rate is None:
        points["collection"] = policy.criteria["collection"].otherwise
        flags.append("no_sales")
    else:
        points["collection"] = policy.criteria["collection"].points(rate)
    points["receivables"] = policy.criteria["receivables"].points(receivables)
    if strategic is None:
        points["strategic"] = min(policy.strategic_levels.values())
        flags.append("no_strategic_level")
    elif strategic not in policy.strategic_levels:
        raise Invalid(f"strategic level must be one of {', '.join(policy.strategic_levels)}, not {strategic!r}")
    else:
        points["strategic"] = policy.strategic_levels[strategic]
    return points, tuple(flags)


def weighted_hundredths(policy, points):
    """``100 · score`` as an int: Σ weight · points with integer weights (exact)."""
    return sum(policy.criteria[name].weight * points[name] for name in ("sales", "collection", "receivables")) \
        + policy.strategic_weight * points["strategic"]


def score(policy, sales, rate, receivables, strategic, new_customer=False):
    """Score a customer: amounts are Decimal yuan, ``rate`` a Decimal fraction (or None when there were no
    sales). A ``new_customer`` (first year of trade) is the lowest grade whatever its score."""
    points, flags = criterion_points(policy, sales, rate, receivables, strategic)
    hundredths = weighted_hundredths(policy, points)
    grade = policy.grade_for(hundredths)
    if new_customer:
        grade = policy.lowest_grade
        flags = flags + ("first_year",)
    terms = policy.terms_for(grade)
    return Score(points, hundredths, grade, terms.limit if terms.credit else Decimal(0), terms.days,
                 terms.credit, flags)
