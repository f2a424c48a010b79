"""Opportunities (商机): customer, amount, stage, owner, expected close; stage sets come from packs."""

from decimal import ROUND_HALF_UP

from marshmallow import fields, validate

from kehu.core import access
from kehu.core.context import service
from kehu.core.models import Opportunity, User
from kehu.core.schemas import OPPORTUNITY_STATUSES, OpportunityInput, StrictSchema, listing_bounds, load
from kehu.core.services.lookup import customer_by_id, parse_id, user_by_login
from kehu.core.services import ownership
from kehu.core.views import OpportunityView, dump, dump_many, with_login
from kehu.errors import NotFound, PermissionDenied


class OpportunityUpdate(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    amount = fields.Decimal(validate=validate.Range(min=0), places=2, rounding=ROUND_HALF_UP, allow_nan=False)
    stage = fields.String(validate=validate.Length(min=1, max=50))
    status = fields.String(validate=validate.OneOf(OPPORTUNITY_STATUSES))
    expected_close = fields.Date(allow_none=True)


@service
def create_opportunity(context, customer, name, stage, amount=0, owner=None, expected_close=None):
    """Open an opportunity on a customer the acting user sees; the owner defaults to the acting user."""
    access.require(context, "create", "create opportunities")
    data = load(OpportunityInput(), {"customer": customer, "name": name, "stage": stage, "amount": amount,
                                     "owner": owner, "expected_close": expected_close})
    account = customer_by_id(context, data["customer"])
    access.require_record(context, "view", account.owner_id, f"customer {account.id}")
    owner_row = user_by_login(context, data.pop("owner")) if data["owner"] else context.user
    if owner_row is not None and context.user is not None and owner_row.id != context.user.id:
        access.require(context, "assign", "give opportunities to other users")
        if not access.owner_in_scope(context, owner_row.id):
            raise PermissionDenied(f"{owner_row.login} is outside your data scope")
    data.pop("owner", None)
    context.raise_if_vetoed("kehu_before_create", [data], entity="opportunity", records=[data], origin="manual")
    opportunity = Opportunity.create(workspace=context.workspace, created_at=context.now, updated_at=context.now,
                                     **data)
    if owner_row is not None:
        ownership.write_owner(context, Opportunity, "opportunity", [opportunity.id], owner_row.id, "created")
        opportunity.owner_id = owner_row.id
    result = dump(OpportunityView, opportunity)
    context.audit("opportunity.created", "opportunity", opportunity.id, after=result)
    context.after_commit(lambda: context.hooks.kehu_records_created(context=context, entity="opportunity",
                                                                    records=[result]))
    return result


def _get(context, opportunity_id, permission):
    opportunity_id = parse_id(opportunity_id, "opportunity")
    row = Opportunity.get_or_none(Opportunity.workspace == context.workspace, Opportunity.id == opportunity_id)
    if row is None:
        raise NotFound(f"no opportunity {opportunity_id}")
    access.require_record(context, permission, row.owner_id, f"opportunity {row.id}")
    return row


@service
def update_opportunity(context, opportunity_id, **patch):
    """Change name, amount, stage, status (open/won/lost) or expected close."""
    data = load(OpportunityUpdate(), {k: v for k, v in patch.items() if v is not None})
    row = _get(context, opportunity_id, "edit")
    before = dump(OpportunityView, row)
    context.raise_if_vetoed("kehu_before_update", [row], entity="opportunity", changes=[(before, data)])
    for key, value in data.items():
        setattr(row, key, value)
    row.updated_at = context.now
    row.save()
    after = dump(OpportunityView, row)
    context.audit("opportunity.updated", "opportunity", row.id, before=before, after=after)
    context.after_commit(lambda: context.hooks.kehu_records_updated(context=context, entity="opportunity",
                                                                    changes=[(before, after)]))
    return after


def show_opportunity(context, opportunity_id):
    return dump(OpportunityView, _get(context, opportunity_id, "view"))


def list_opportunities(context, customer=None, stage=None, status=None, owner=None, limit=100, offset=0):
    limit, offset = listing_bounds(limit, offset)
    query = Opportunity.select().where(Opportunity.workspace == context.workspace).order_by(Opportunity.id)
    condition = access.owner_condition(context, Opportunity.owner)
    if condition is not None:
        query = query.where(condition)
    if customer is not None:
        query = query.where(Opportunity.customer == parse_id(customer, "customer"))
    if stage:
        query = query.where(Opportunity.stage == stage)
    if status:
        query = query.where(Opportunity.status == status)
    if owner:
        query = query.where(Opportunity.owner == user_by_login(context, owner, active_only=False))
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(OpportunityView, with_login(query, Opportunity, User, "owner"))


SERVICES = {"create": create_opportunity, "update": update_opportunity, "show": show_opportunity,
            "list": list_opportunities}
