"""Money is Decimal rounded half-up to the fen, stored as integer fen (decision 9); times are aware UTC (rule 5)."""

import datetime as dt
from decimal import Decimal

import pytest

from kehu.core.db import database
from kehu.core.models import Customer, Opportunity

UTC = dt.timezone.utc


def stored_fen(opportunity_id):
    """The raw integer in the amount column, read past the model's conversion."""
    return database.execute_sql(f"SELECT amount FROM opportunity WHERE id = {int(opportunity_id)}").fetchone()[0]


@pytest.mark.parametrize("amount, expected", [
    ("1234.565", "1234.57"),  # half-up, not banker's rounding (which gives 1234.56)
    ("1234.575", "1234.58"),
    ("0.005", "0.01"),
    ("0.004", "0.00"),
    ("2.5", "2.50"),
    (7, "7.00"),
    (Decimal("1234.565"), "1234.57"),
    ("99999999.995", "100000000.00"),
])
def test_an_opportunity_amount_is_rounded_half_up_to_the_fen(as_, owned, amount, expected):
    li = as_("li")
    created = li.opportunities.create(owned["li"], "一期", "初步接触", amount=amount)
    assert created["amount"] == expected
    assert li.opportunities.show(created["id"])["amount"] == expected
    row = Opportunity.get_by_id(created["id"])
    assert row.amount == Decimal(expected) and isinstance(row.amount, Decimal)
    assert int(stored_fen(created["id"])) == int(Decimal(expected) * 100)


def test_an_updated_amount_is_rounded_half_up_too(as_, owned):
    li = as_("li")
    opportunity = li.opportunities.create(owned["li"], "一期", "初步接触", amount="100")
    assert li.opportunities.update(opportunity["id"], amount="1234.565")["amount"] == "1234.57"
    assert Opportunity.get_by_id(opportunity["id"]).amount == Decimal("1234.57")
    assert stored_fen(opportunity["id"]) == 123457
    assert li.opportunities.update(opportunity["id"], amount="0.125")["amount"] == "0.13"


def test_sums_in_sql_stay_exact(as_, owned):
    li = as_("li")
    for amount in ("0.10", "0.20", "0.30"):
        li.opportunities.create(owned["li"], "小单", "初步接触", amount=amount)
    total = database.execute_sql("SELECT SUM(amount) FROM opportunity").fetchone()[0]
    assert int(total) == 60


def test_times_are_aware_utc_and_a_local_now_is_converted(crm, as_):
    li = as_("li", now="2026-11-24T09:00")  # workspace time, Asia/Shanghai
    created = li.customers.create(name="杭州茶叶")
    assert created["created_at"] == created["updated_at"] == "2026-11-24T01:00:00+00:00"
    row = Customer.get_by_id(created["id"])
    assert row.created_at == dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert row.created_at.utcoffset() == dt.timedelta(0)

    aware = as_("li", now=dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)).customers.create(name="上海乳业")
    assert aware["created_at"] == "2026-11-24T09:00:00+00:00"

    later = as_("li", now="2026-11-25T09:00").customers.update(created["id"], region="浙江")
    assert (later["created_at"], later["updated_at"]) == ("2026-11-24T01:00:00+00:00", "2026-11-25T01:00:00+00:00")
    [event] = crm.events(action="customer.updated")
    assert event.at == dt.datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def test_a_real_clock_time_is_aware_utc_too(as_):
    before = dt.datetime.now(UTC)
    created = as_("li").customers.create(name="杭州茶叶")
    after = dt.datetime.now(UTC)
    stamp = dt.datetime.fromisoformat(created["created_at"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= stamp <= after + dt.timedelta(seconds=1)
    assert Customer.get_by_id(created["id"]).created_at.tzinfo is not None


def test_expected_close_is_a_date(as_, owned):
    created = as_("li").opportunities.create(owned["li"], "一期", "初步接触", expected_close="2026-12-31")
    assert created["expected_close"] == "2026-12-31"
    assert Opportunity.get_by_id(created["id"]).expected_close == dt.date(2026, 12, 31)
