"""The credit policy: one validated document, DOMAIN.md §3 (the Tianrun profile) by default.

A workspace overrides any part of it (``kehu credit policy set FILE.json``; nested objects merge, lists and
values replace) and industry packs may ship their own. Every amount is a decimal string in yuan, every rate
a decimal string; code reads the document only through :class:`Policy`, whose numbers are ``Decimal`` and
``int`` — never floats (a weighted score of 6/2/8/2 must be exactly 5.00, DOMAIN.md E11).
"""

from decimal import Decimal, InvalidOperation

import attrs
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kehu.core.documents import merge_documents as merge
from kehu.errors import Invalid

CRITERIA = ("sales", "collection", "receivables", "strategic")
STRATEGIC_LEVELS = ("leader", "key", "important", "ordinary", "sporadic")
APPROVER_ROLES = ("vp", "gm", "gm_office")

DEFAULT_POLICY = {
    # §3.2: each criterion scores 10/8/6/4/2 points. "at_least" bands: the first threshold the value reaches;
    # "at_most" bands: the first threshold the value does not exceed; below every band: "otherwise".
    "criteria": {
        # READING (DOMAIN.md §9.1): the top band "≥600 t" is ≥1,000万 yuan.
        "sales": {"weight": 30, "basis": "at_least", "otherwise": 2,
                  "bands": [["10000000", 10], ["8000000", 8], ["5000000", 6], ["1000000", 4]]},
        # collected ÷ sales, as a fraction
        "collection": {"weight": 25, "basis": "at_least", "otherwise": 2,
                       "bands": [["1", 10], ["0.8", 8], ["0.5", 6], ["0.3", 4]]},
        "receivables": {"weight": 30, "basis": "at_most", "otherwise": 2,
                        "bands": [["10000", 10], ["200000", 8], ["800000", 6], ["2000000", 4]]},
        "strategic": {"weight": 15,
                      "levels": {"leader": 10, "key": 8, "important": 6, "ordinary": 4, "sporadic": 2}},
    },
    # §3.3: score ≥ 8 → A, ≥ 5 → B, else C (thresholds inclusive); new customers are C for their first year.
    "grades": [["A", "8"], ["B", "5"]],
    "lowest_grade": "C",
    "new_customer_months": 12,
    # The window of "sales" and of the collection rate, ending on the grading day (READING of §9.2).
    "period_months": 12,
    # §3.4: credit sales allowed, the longest term and the most outstanding credit, per grade.
    "terms": {
        "A": {"credit": True, "limit": "2000000", "days": 50},
        "B": {"credit": True, "limit": "1000000", "days": 50},
        "C": {"credit": False, "limit": "0", "days": 50},
    },
    # §3.5: bands of the percentage over the limit (each includes its upper edge) → the approver; above the
    # last band → "above". Grade C measures the credited amount's share of a single contract, and the
    # "first" roles approve the credit application before the band's approver.
    "approvals": {
        "A": {"measure": "over_limit", "first": [], "bands": [["30", "vp"], ["50", "gm"]], "above": "gm_office"},
        "B": {"measure": "over_limit", "first": [], "bands": [["20", "vp"], ["30", "gm"]], "above": "gm_office"},
        "C": {"measure": "contract_share", "first": ["vp"], "bands": [["20", "vp"], ["50", "gm"]],
              "above": "gm_office"},
    },
    # §3.6: kehu default for the OPEN "long-overdue" threshold: no more credit while a receivable is this many
    # days past due (0 turns the block off).
    "long_overdue_days": 90,
    # §3.7: the collection period runs from the day the goods are received; the receipt day itself is not
    # counted (PRC Civil Code art. 201). Late fee: 0.02% of the unpaid amount per overdue day, simple.
    "collection_days": 50,
    "count_receipt_day": False,
    "late_fee_per_day": "0.0002",
    # Aging buckets of overdue days: 1–30, 31–60, 61–90, over 90.
    "aging_buckets": [30, 60, 90],
    # §3.9: the collection procedure, in order; a step with approvers needs them before it counts.
    "collection_steps": [
        {"step": "phone", "approvers": []},
        {"step": "repayment_agreement", "approvers": ["vp"]},
        {"step": "legal", "approvers": []},
    ],
    # §3.10: head-office sales lead (vp) and CFO (finance) review, the GM approves.
    "write_off_chain": ["vp", "finance", "gm"],
    "goods_settlement_chain": ["vp", "finance", "gm"],
    # §3.11 (D1): the tier is chosen by sales (half-open bands), the rebate is paid on collections.
    "rebate": {"tiers": [["200000", "0.05"], ["1000000", "0.08"]], "top": "0.10"},
}


# --- validation ---------------------------------------------------------------------------------------------


def _decimal(text, where, errors, minimum=Decimal(0)):
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        errors.append(f"{where}: {text!r} is not a decimal number")
        return None
    if not value.is_finite() or value < minimum or value >= Decimal(10) ** 13:
        errors.append(f"{where}: {text!r} must be a number from {minimum} to below 10^13")
        return None
    return value


class _Banded(Schema):
    weight = fields.Integer(required=True, validate=validate.Range(0, 100))
    basis = fields.String(required=True, validate=validate.OneOf(("at_least", "at_most")))
    otherwise = fields.Integer(required=True, validate=validate.Range(0, 10))
    bands = fields.List(fields.Tuple((fields.Raw(), fields.Integer(validate=validate.Range(0, 10)))),
                        required=True, validate=validate.Length(min=1))


class _Strategic(Schema):
    weight = fields.Integer(required=True, validate=validate.Range(0, 100))
    levels = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(0, 10)),
                         required=True, validate=validate.Length(min=1))


class _Criteria(Schema):
    sales = fields.Nested(_Banded, required=True)
    collection = fields.Nested(_Banded, required=True)
    receivables = fields.Nested(_Banded, required=True)
    strategic = fields.Nested(_Strategic, required=True)

    @validates_schema
    def weights_make_100(self, data, **kwargs):
        total = sum(data[name]["weight"] for name in CRITERIA)
        if total != 100:
            raise ValidationError(f"the weights add up to {total}, not 100")


class _Terms(Schema):
    credit = fields.Boolean(required=True)
    limit = fields.Raw(required=True)
    days = fields.Integer(required=True, validate=validate.Range(0, 3650))


class _Approval(Schema):
    measure = fields.String(required=True, validate=validate.OneOf(("over_limit", "contract_share")))
    first = fields.List(fields.String(), load_default=list)
    bands = fields.List(fields.Tuple((fields.Raw(), fields.String())), required=True)
    above = fields.String(required=True)


class _Step(Schema):
    step = fields.String(required=True, validate=validate.Length(min=1, max=30))
    approvers = fields.List(fields.String(), load_default=list)


class _Rebate(Schema):
    tiers = fields.List(fields.Tuple((fields.Raw(), fields.Raw())), required=True)
    top = fields.Raw(required=True)


class PolicySchema(Schema):
    """The shape of a credit policy document (amounts and rates as decimal strings)."""

    criteria = fields.Nested(_Criteria, required=True)
    grades = fields.List(fields.Tuple((fields.String(validate=validate.Length(min=1, max=2)), fields.Raw())),
                         required=True, validate=validate.Length(min=1))
    lowest_grade = fields.String(required=True, validate=validate.Length(min=1, max=2))
    new_customer_months = fields.Integer(required=True, validate=validate.Range(0, 120))
    period_months = fields.Integer(required=True, validate=validate.Range(1, 120))
    terms = fields.Dict(keys=fields.String(), values=fields.Nested(_Terms), required=True)
    approvals = fields.Dict(keys=fields.String(), values=fields.Nested(_Approval), required=True)
    long_overdue_days = fields.Integer(required=True, validate=validate.Range(0, 3650))
    collection_days = fields.Integer(required=True, validate=validate.Range(0, 3650))
    count_receipt_day = fields.Boolean(required=True)
    late_fee_per_day = fields.Raw(required=True)
    aging_buckets = fields.List(fields.Integer(validate=validate.Range(1, 3650)), required=True)
    collection_steps = fields.List(fields.Nested(_Step), required=True, validate=validate.Length(min=1))
    write_off_chain = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    goods_settlement_chain = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    rebate = fields.Nested(_Rebate, required=True)


@attrs.frozen
class Band:
    threshold: Decimal
    points: int


@attrs.frozen
class Criterion:
    name: str
    weight: int
    basis: str  # "at_least" | "at_most"
    bands: tuple  # of Band, in the order they are tried
    otherwise: int

    def points(self, value):
        """The points ``value`` (a Decimal) scores: the first band it reaches (or does not exceed)."""
        for band in self.bands:
            if (value >= band.threshold) if self.basis == "at_least" else (value <= band.threshold):
                return band.points
        return self.otherwise


@attrs.frozen
class Terms:
    credit: bool
    limit: Decimal
    days: int


@attrs.frozen
class ApprovalRule:
    measure: str  # "over_limit" | "contract_share"
    first: tuple
    bands: tuple  # of (Decimal percentage, role), ascending
    above: str

    def approver(self, percentage):
        """The role for ``percentage`` (Decimal): the first band whose upper edge it does not exceed."""
        for edge, role in self.bands:
            if percentage <= edge:
                return role
        return self.above


@attrs.frozen
class Policy:
    """A validated credit policy with exact numbers; ``document`` is the JSON it was read from."""

    document: dict
    criteria: dict  # name → Criterion (strategic: levels in ``strategic_levels``)
    strategic_weight: int
    strategic_levels: dict  # level → points
    grades: tuple  # of (grade, Decimal threshold), descending
    lowest_grade: str
    new_customer_months: int
    period_months: int
    terms: dict  # grade → Terms
    approvals: dict  # grade → ApprovalRule
    long_overdue_days: int
    collection_days: int
    count_receipt_day: bool
    late_fee_per_day: Decimal
    aging_buckets: tuple
    collection_steps: tuple  # of {"step", "approvers"}
    write_off_chain: tuple
    goods_settlement_chain: tuple
    rebate_tiers: tuple  # of (Decimal sales below which, Decimal rate)
    rebate_top: Decimal

    @property
    def grade_names(self):
        return tuple(grade for grade, _ in self.grades) + (self.lowest_grade,)

    def terms_for(self, grade):
        return self.terms[grade]

    def grade_for(self, hundredths):
        """The grade of a weighted score given in hundredths (an int): thresholds are inclusive."""
        for grade, threshold in self.grades:
            if hundredths >= threshold * 100:
                return grade
        return self.lowest_grade


def load_policy(document):
    """Validate a complete policy ``document``; return a :class:`Policy` or raise ``Invalid`` naming every
    problem."""
    if not isinstance(document, dict):
        raise Invalid("a credit policy is a JSON object")
    try:
        data = PolicySchema().load(document)
    except ValidationError as exc:
        raise Invalid("invalid credit policy: " + _flatten(exc.messages)) from None
    errors = []
    criteria = {}
    for name in ("sales", "collection", "receivables"):
        spec = data["criteria"][name]
        bands = []
        for index, (threshold, points) in enumerate(spec["bands"]):
            value = _decimal(threshold, f"criteria.{name}.bands[{index}]", errors)
            if value is not None:
                bands.append(Band(value, points))
        thresholds = [band.threshold for band in bands]
        wanted = sorted(thresholds, reverse=spec["basis"] == "at_least")
        if thresholds != wanted or len(set(thresholds)) != len(thresholds):
            order = "descending" if spec["basis"] == "at_least" else "ascending"
            errors.append(f"criteria.{name}.bands: thresholds must be distinct and {order}")
        criteria[name] = Criterion(name, spec["weight"], spec["basis"], tuple(bands), spec["otherwise"])
    strategic = data["criteria"]["strategic"]
    grades = []
    for index, (grade, threshold) in enumerate(data["grades"]):
        value = _decimal(threshold, f"grades[{index}]", errors)
        if value is not None:
            if value != value.quantize(Decimal("0.01")):
                errors.append(f"grades[{index}]: a threshold has at most two decimals")
            grades.append((grade, value))
    if [t for _, t in grades] != sorted((t for _, t in grades), reverse=True):
        errors.append("grades: thresholds must be descending")
    names = [g for g, _ in grades] + [data["lowest_grade"]]
    if len(set(names)) != len(names):
        errors.append("grades: each grade is named once (lowest_grade included)")
    terms = {}
    for grade in names:
        spec = data["terms"].get(grade)
        if spec is None:
            errors.append(f"terms: grade {grade} has no terms")
            continue
        limit = _decimal(spec["limit"], f"terms.{grade}.limit", errors)
        terms[grade] = Terms(spec["credit"], limit if limit is not None else Decimal(0), spec["days"])
    approvals = {}
    for grade in names:
        spec = data["approvals"].get(grade)
        if spec is None:
            errors.append(f"approvals: grade {grade} has no approval bands")
            continue
        bands = []
        for index, (edge, role) in enumerate(spec["bands"]):
            value = _decimal(edge, f"approvals.{grade}.bands[{index}]", errors)
            if value is not None:
                bands.append((value, role))
        if [e for e, _ in bands] != sorted(e for e, _ in bands):
            errors.append(f"approvals.{grade}.bands: edges must be ascending")
        for role in [*spec["first"], *(r for _, r in bands), spec["above"]]:
            if role not in APPROVER_ROLES:
                errors.append(f"approvals.{grade}: approver {role!r} is not one of {', '.join(APPROVER_ROLES)}")
        approvals[grade] = ApprovalRule(spec["measure"], tuple(spec["first"]), tuple(bands), spec["above"])
    fee = _decimal(data["late_fee_per_day"], "late_fee_per_day", errors)
    if fee is not None and fee >= 1:
        errors.append("late_fee_per_day: a daily rate below 1 (0.0002 = 0.02% a day)")
    if data["aging_buckets"] != sorted(set(data["aging_buckets"])):
        errors.append("aging_buckets: ascending day counts")
    tiers = []
    for index, (below, rate) in enumerate(data["rebate"]["tiers"]):
        edge = _decimal(below, f"rebate.tiers[{index}]", errors)
        value = _decimal(rate, f"rebate.tiers[{index}] rate", errors)
        if edge is not None and value is not None:
            tiers.append((edge, value))
    top = _decimal(data["rebate"]["top"], "rebate.top", errors)
    if errors:
        raise Invalid("invalid credit policy: " + "; ".join(errors))
    return Policy(
        document=document, criteria=criteria, strategic_weight=strategic["weight"],
        strategic_levels=dict(strategic["levels"]), grades=tuple(grades), lowest_grade=data["lowest_grade"],
        new_customer_months=data["new_customer_months"], period_months=data["period_months"], terms=terms,
        approvals=approvals, long_overdue_days=data["long_overdue_days"],
        collection_days=data["collection_days"], count_receipt_day=data["count_receipt_day"],
        late_fee_per_day=fee, aging_buckets=tuple(data["aging_buckets"]),
        collection_steps=tuple(data["collection_steps"]), write_off_chain=tuple(data["write_off_chain"]),
        goods_settlement_chain=tuple(data["goods_settlement_chain"]), rebate_tiers=tuple(tiers), rebate_top=top)


def _flatten(messages, prefix=""):
    parts = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            parts.append(_flatten(value, f"{prefix}{key}." if key != "_schema" else prefix))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            parts.append(f"{prefix.rstrip('.') or 'policy'}: {' '.join(messages)}")
        else:
            parts.extend(_flatten(m, prefix) for m in messages)
    else:
        parts.append(f"{prefix.rstrip('.')}: {messages}")
    return "; ".join(p for p in parts if p)


DEFAULT = load_policy(DEFAULT_POLICY)


def policy_for(context):
    """The workspace's credit policy: the default with the workspace's override laid over it."""
    from kehu.plugins.credit.models import CreditPolicy

    row = CreditPolicy.get_or_none(CreditPolicy.workspace == context.workspace)
    if row is None or not row.document:
        return DEFAULT
    return load_policy(merge(DEFAULT_POLICY, row.document))
