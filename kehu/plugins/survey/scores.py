"""Satisfaction figures (DOMAIN.md §5.4): NPS, CSAT and C = b/a, the survey report, and scores for other
plugins (``kehu_customer_scores``).

Arithmetic (exact: integer sums in SQL, one half-up rounding at the end, no floats):

* NPS = %promoters (9–10) − %detractors (0–6) over the responses with an NPS answer, −100 … 100, a
  ``Decimal`` rounded half-up to one place (5 promoters, 3 passives, 2 detractors → ``30.0``);
* CSAT = Σ csat_points ÷ Σ csat_max × 100 over the responses with scale answers (each response's
  csat_points/csat_max is the sum of its scale answers over the sum of their maxima), a percentage rounded
  half-up to one place;
* C = Σ perception ÷ Σ expectation over the responses that answered both (a = 8, b = 6 → ``0.75``), two places.

Each figure is ``None`` where no response carries it. The CLI prints them as JSON numbers.

Report decisions:

* The period is when responses were *answered* (``--from``/``--to``, local dates, inclusive; default the last 30
  days, as core's reports).
* Scope: responses of customers the acting user sees (the customer's owner in their data scope; unowned
  customers only for workspace-wide roles).
* ``--by rep`` groups by the customer's *owner* (who is accountable for the relationship), not by who
  collected the answers; ``unit`` by the owner's org-unit path; ``industry`` by ``customer.industry``. Customers
  without one group under ``null``.
"""

from decimal import Decimal

from peewee import JOIN, Case, fn

from kehu.core import access
from kehu.core.models import Customer, OrgUnit, User
from kehu.core.services.reports import period_bounds
from kehu.errors import Invalid
from kehu.plugins.survey.models import SurveyResponse

GROUPINGS = ("rep", "unit", "industry")


def half_up(numerator, denominator, places):
    """``numerator / denominator`` rounded half-up (away from zero) to ``places`` decimals, exactly."""
    if not denominator:
        return None
    sign = -1 if numerator * denominator < 0 else 1
    quotient, remainder = divmod(abs(numerator) * 10 ** places, abs(denominator))
    if 2 * remainder >= abs(denominator):
        quotient += 1
    return Decimal(sign * quotient).scaleb(-places)


def nps_value(promoters, passives, detractors):
    """NPS of the counts: (promoters − detractors) × 100 ÷ all rated, one place; ``None`` with none rated."""
    return half_up((promoters - detractors) * 100, promoters + passives + detractors, 1)


def csat_value(points, maximum):
    """CSAT percentage: points × 100 ÷ maximum, one place; ``None`` without scale answers."""
    return half_up(points * 100, maximum, 1) if maximum else None


def c_ratio(perception, expectation):
    """C = b/a, two places; ``None`` without both."""
    return half_up(perception, expectation, 2) if expectation else None


def _count(condition):
    return fn.SUM(Case(None, [(condition, 1)], 0))


def _aggregates():
    """The SQL aggregates every figure is computed from (in this order)."""
    both = SurveyResponse.expectation.is_null(False) & SurveyResponse.perception.is_null(False)
    return [
        fn.COUNT(SurveyResponse.id),
        _count(SurveyResponse.nps >= 9),
        _count((SurveyResponse.nps >= 7) & (SurveyResponse.nps <= 8)),
        _count(SurveyResponse.nps <= 6),
        fn.SUM(SurveyResponse.csat_points),
        fn.SUM(SurveyResponse.csat_max),
        fn.SUM(Case(None, [(both, SurveyResponse.expectation)], 0)),
        fn.SUM(Case(None, [(both, SurveyResponse.perception)], 0)),
    ]


def _figures(values):
    """One aggregate row as the report's figures (PostgreSQL sums come back as Decimal: made int)."""
    responses, promoters, passives, detractors, points, maximum, expectation, perception = (
        int(v or 0) for v in values)
    return {"responses": responses, "nps": nps_value(promoters, passives, detractors), "promoters": promoters,
            "passives": passives, "detractors": detractors, "csat": csat_value(points, maximum),
            "c_ratio": c_ratio(perception, expectation)}


def _answered(context, start=None, end=None, form=None):
    """Answered responses in the acting user's scope, joined to their customer."""
    query = (SurveyResponse.select().join(Customer, on=(SurveyResponse.customer == Customer.id))
             .where(SurveyResponse.workspace == context.workspace, SurveyResponse.answered_at.is_null(False),
                    Customer.deleted_at.is_null()))
    if start is not None:
        query = query.where(SurveyResponse.answered_at >= start, SurveyResponse.answered_at < end)
    if form:
        query = query.where(SurveyResponse.form_key == str(form).strip())
    condition = access.owner_condition(context, Customer.owner)
    return query if condition is None else query.where(condition)


def _group_column(query, by):
    if by == "rep":
        return query.join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id)), User.login
    if by == "unit":
        owner = User.alias()
        query = (query.join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
                 .join(OrgUnit, JOIN.LEFT_OUTER, on=(owner.unit == OrgUnit.id)))
        return query, OrgUnit.path
    return query, Customer.industry


def report(context, form=None, start=None, end=None, by=None):
    """NPS, CSAT and C = b/a of the answered surveys in the period, within the acting user's scope.

    ``form`` narrows to one form; ``by`` (``rep``, ``unit`` or ``industry``) adds ``groups``. Returns
    ``{"form", "from", "to", "by", "responses", "nps", "promoters", "passives", "detractors", "csat",
    "c_ratio", "groups": [{"group", ...same figures}]}``; see the module for the arithmetic.
    """
    access.require(context, "view", "see survey reports")
    if by is not None and by not in GROUPINGS:
        raise Invalid(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    start_at, end_at = period_bounds(context, start, end)
    base = _answered(context, start_at, end_at, form)
    total = _figures(base.select(*_aggregates()).tuples().get())
    groups = []
    if by:
        query, column = _group_column(base, by)
        rows = query.select(column, *_aggregates()).group_by(column).order_by(column).tuples()
        groups = [{"group": row[0], **_figures(row[1:])} for row in rows]
    return {"form": form, "from": start_at.isoformat(), "to": end_at.isoformat(), "by": by, **total,
            "groups": groups}


def customer_scores(context, customer_ids):
    """``{customer_id: {"nps", "csat", "responses"}}`` over all answered surveys of ``customer_ids`` (only the
    customers with answers appear); for other plugins through ``kehu_customer_scores``, which decide scope."""
    ids = sorted({int(i) for i in customer_ids or ()})
    if not ids:
        return {}
    aggregates = _aggregates()
    rows = (SurveyResponse.select(SurveyResponse.customer, *aggregates)
            .where(SurveyResponse.workspace == context.workspace, SurveyResponse.answered_at.is_null(False),
                   SurveyResponse.customer.in_(ids))
            .group_by(SurveyResponse.customer).tuples())
    out = {}
    for row in rows:
        figures = _figures(row[1:])
        out[row[0]] = {"nps": figures["nps"], "csat": figures["csat"], "responses": figures["responses"]}
    return out


SERVICES = {"report": report, "scores": customer_scores}
