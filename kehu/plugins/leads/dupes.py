"""Possible duplicates (``kehu leads dupes``): leads and customers sharing a phone, an e-mail or a company name.

Exact duplicates share an e-mail or a mobile: ``add_leads`` refuses to create them, but they can exist (leads
added before a key was normalised, customers created by core, a lead whose mobile a customer already has).
*Possible* duplicates share only a fixed line or a company name; they are listed for a person to judge and
never merged automatically — two contacts of two companies calling from one office switchboard are two leads.

Set-based: one ``GROUP BY kind, key HAVING COUNT(*) > 1`` over the union of the visible leads' and customers'
keys gives a page of groups, and one more query fetches the members of that page.

Keys. A lead's phone key is E.164 (``+8657187654321``); a customer's is the digits form of
:func:`kehu.core.normalize.phone_key` (``057187654321``). Customers' keys are brought to E.164 in SQL with the
workspace's country code: ``+...`` stays, ``00...`` becomes ``+...``, a leading trunk ``0`` is replaced by
``+<cc>``, anything else gets ``+<cc>`` in front; an ``#extension`` is dropped (E.164 has none). In a
mainland workspace (region CN) a customer's number is a mobile when it is ``1[3-9]`` plus nine digits, the
rule the leads' fast path uses; elsewhere customers' numbers count as fixed lines (possible duplicates, never
claimed to be exact).
"""

from peewee import SQL, Case, Select, Value, fn

from kehu.core import access
from kehu.core.db import database, is_postgres
from kehu.core.models import Customer
from kehu.core.schemas import listing_bounds
from kehu.plugins.leads import services
from kehu.plugins.leads.models import CONVERTED, Lead

KINDS = ("mobile", "email", "fixed_line", "company")  # the order groups are listed in: exact ones first


def country_code(region):
    try:
        import phonenumbers

        return str(phonenumbers.country_code_for_region(region) or 86)
    except ImportError:  # pragma: no cover - phonenumberslite is a dependency
        return "86"


def _customer_phone(region):
    """``(E.164 expression, kind expression)`` of ``Customer.phone_key``."""
    key = Customer.phone_key
    position = fn.STRPOS(key, "#") if is_postgres() else fn.INSTR(key, "#")
    base = Case(None, [(position > 0, fn.SUBSTR(key, 1, position - 1))], key)
    cc = "+" + country_code(region)
    first, second = fn.SUBSTR(base, 1, 1), fn.SUBSTR(base, 1, 2)
    e164 = Case(None, [
        (first == "+", base),
        (second == "00", Value("+").concat(fn.SUBSTR(base, 3))),
        (first == "0", Value(cc).concat(fn.SUBSTR(base, 2))),
    ], Value(cc).concat(base))
    if region == "CN":
        mobile = ((fn.LENGTH(base) == 11) & (first == "1") & (fn.SUBSTR(base, 2, 1) >= "3")
                  & (fn.SUBSTR(base, 2, 1) <= "9"))
        kind = Case(None, [(mobile, "mobile")], "fixed_line")
    else:
        kind = Value("fixed_line")
    return e164, kind


def _branches(context, keys=None):
    """The SELECTs whose UNION ALL lists every (kind, key, entity, id) the acting user sees.

    ``keys`` (a set of (kind, key)) narrows each branch to those keys, for fetching one page's members.
    """
    region = services.phone_region(context)
    leads = services._visible_leads(context).where(Lead.state != CONVERTED)
    customers = Customer.select().where(Customer.workspace == context.workspace, Customer.deleted_at.is_null())
    condition = access.owner_condition(context, Customer.owner)
    if condition is not None:
        customers = customers.where(condition)
    lead_kind = Case(None, [(Lead.phone_mobile == True, "mobile")], "fixed_line")  # noqa: E712
    customer_phone, customer_kind = _customer_phone(region)
    specs = [
        (leads, Lead, lead_kind, Lead.phone_key, Lead.phone_key.is_null(False), ("mobile", "fixed_line"), "lead"),
        (leads, Lead, Value("email"), Lead.email_key, Lead.email_key.is_null(False), ("email",), "lead"),
        (leads, Lead, Value("company"), Lead.company_key,
         Lead.company_key.is_null(False) & (Lead.company_key != ""), ("company",), "lead"),
        (customers, Customer, customer_kind, customer_phone, Customer.phone_key.is_null(False),
         ("mobile", "fixed_line"), "customer"),
        (customers, Customer, Value("email"), Customer.email_key, Customer.email_key.is_null(False), ("email",),
         "customer"),
        (customers, Customer, Value("company"), Customer.name_key,
         Customer.name_key.is_null(False) & (Customer.name_key != ""), ("company",), "customer"),
    ]
    branches = []
    for base, model, kind, key, present, kinds, entity in specs:
        where = present
        if keys is not None:
            wanted = sorted({k for kd, k in keys if kd in kinds})
            if not wanted:
                continue
            where = where & key.in_(wanted)
        branches.append(base.select(kind.alias("kind"), key.alias("key"), Value(entity).alias("entity"),
                                    model.id.alias("rid")).where(where))
    return branches


def _union(branches):
    union = branches[0]
    for branch in branches[1:]:
        union = union + branch  # UNION ALL
    return union.alias("d")


def possible_duplicates(context, limit=100, offset=0):
    """Groups of leads and customers the acting user sees that share a key.

    Returns ``[{"key", "kind", "leads": [ids], "customers": [ids]}]``: ``kind`` is ``mobile`` or ``email``
    (exact duplicates), ``fixed_line`` or ``company`` (possible duplicates, never merged automatically).
    Exact kinds come first, then by key; ``limit``/``offset`` page over groups (limit 0 = all). Converted
    leads are left out (their customer stands for them) and so are deleted customers.
    """
    limit, offset = listing_bounds(limit, offset)
    union = _union(_branches(context))
    order = Case(union.c.kind, [(kind, rank) for rank, kind in enumerate(KINDS)], len(KINDS))
    groups = (Select(from_list=[union], columns=[union.c.kind, union.c.key])
              .group_by(union.c.kind, union.c.key)
              .having(fn.COUNT(SQL("*")) > 1)
              .order_by(order, union.c.key))
    if limit:
        groups = groups.limit(limit)
    if offset:
        groups = groups.offset(offset)
    page = [(kind, key) for kind, key in groups.bind(database).tuples()]
    if not page:
        return []
    wanted = set(page)
    members = {group: {"lead": [], "customer": []} for group in page}
    union = _union(_branches(context, wanted))
    query = (Select(from_list=[union], columns=[union.c.kind, union.c.key, union.c.entity, union.c.rid])
             .order_by(union.c.rid))
    for kind, key, entity, rid in query.bind(database).tuples():
        if (kind, key) in wanted:
            members[(kind, key)][entity].append(rid)
    return [{"key": key, "kind": kind, "leads": members[(kind, key)]["lead"],
             "customers": members[(kind, key)]["customer"]} for kind, key in page]
