"""marshmallow schemas of the leads plugin's input."""

from marshmallow import fields, validate

from kehu.core.schemas import Email, Phone, StrictSchema, Text

RULE_FIELDS = ("max_held", "daily_claims", "protect_days", "followup_days", "warn_days", "cooldown_hours")


class PoolName(StrictSchema):
    name = fields.String(required=True, validate=validate.Regexp(r"^[^\s/\\]{1,100}$",
                                                                 error="a pool name has no spaces or slashes"))


class PoolRules(StrictSchema):
    """Pool rules: each optional (the rest keep their values); 0 turns a rule off."""

    max_held = fields.Integer(strict=False, validate=validate.Range(min=0, max=1_000_000))
    daily_claims = fields.Integer(strict=False, validate=validate.Range(min=0, max=1_000_000))
    protect_days = fields.Integer(strict=False, validate=validate.Range(min=0, max=3650))
    followup_days = fields.Integer(strict=False, validate=validate.Range(min=0, max=3650))
    warn_days = fields.Integer(strict=False, validate=validate.Range(min=0, max=3650))
    cooldown_hours = fields.Integer(strict=False, validate=validate.Range(min=0, max=87600))
    team = Text(allow_none=True)


class LeadInput(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    company = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    phone = Phone(load_default=None, allow_none=True, validate=validate.Length(max=50))
    email = Email(load_default=None, allow_none=True, validate=validate.Length(max=200))
    region = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    industry = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    source = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    pool = Text(load_default=None, allow_none=True)
    owner = Text(load_default=None, allow_none=True)
    custom = fields.Dict(keys=fields.String(), load_default=dict)
