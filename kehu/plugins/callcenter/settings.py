"""The call-center settings: one validated document, DOMAIN.md §4 (and §2.5–2.6) by default.

Intent stages with their talk tracks, the four tool annotations and the rules tying them to the need and
awareness categories, the category values, dispositions with their required notes and next actions, sources,
scripts and objections, the phone-claim bounds and the new/old rule are data: a workspace overrides any part
(``kehu calls settings set FILE.json``; objects merge key by key, lists and values replace) and industry packs
ship their own. Code reads the document through :func:`settings_for` only.
"""


from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kehu.core.documents import merge_documents as merge
from kehu.errors import Invalid

ANNOTATION_KEYS = ("outlook", "targets", "competition", "awareness")
NEXT_ACTIONS = ("callback", "book_visit", "send_survey", "mark_invalid", "return_to_pool")
SYSTEM_SOURCE = "系统客户"

DEFAULT_SETTINGS = {
    # §4.2: the six stages (the text says five and lists six; kehu ships all six, §9.16). callback_days: the
    # stage's default interval before the next call (READING for −1: call back periodically; OPEN interval).
    "intent_stages": [
        {"stage": -1, "name": "拒绝 refuses", "callback_days": 30, "talk_track": [
            "persist: call back periodically", "prepare a good opening", "show expertise to earn trust"]},
        {"stage": 0, "name": "不拒绝/不了解 does not refuse, does not understand online promotion",
         "callback_days": 7, "talk_track": [
             "acknowledge complaints, find out the specifics and analyse them", "no pressure, a relaxed tone"]},
        {"stage": 1, "name": "愿意交流 willing to talk", "callback_days": 3, "talk_track": [
            "build trust", "use the tools to make the need explicit"]},
        {"stage": 2, "name": "主动了解 actively studies the product and its value", "callback_days": 2,
         "talk_track": ["know the product confidently", "catch the key need",
                        "answer well, e.g. how it differs from the customer's current channels",
                        "push for a visit"]},
        {"stage": 3, "name": "考虑成交 considering a deal", "callback_days": 1, "talk_track": [
            "remove objective obstacles so there is no excuse not to sign", "trial closes", "create urgency",
            "closing pressure (逼单)"]},
        {"stage": 4, "name": "确认成交 confirmed to close", "callback_days": 1, "talk_track": []},
    ],
    # §4.1: the four tool annotations (工具批注).
    "annotations": {
        "outlook": "the company's development expectations (发展前景)",
        "targets": "its target customer base (目标客户)",
        "competition": "industry competition and its own competitiveness (行业竞争与自身竞争力)",
        "awareness": "its online-marketing awareness (网络营销意识)",
    },
    # §4.1, submit blocked otherwise: all of the annotations ⇔ the category (both ways).
    "annotation_rules": [
        {"annotations": ["outlook", "targets", "competition"], "category": "need"},
        {"annotations": ["awareness"], "category": "awareness"},
    ],
    # Category values are OPEN in the documents; kehu defaults.
    "categories": {
        "need": ["品牌曝光 brand exposure", "获客引流 lead generation", "销售转化 sales conversion",
                 "暂无需求 no need yet"],
        "awareness": ["无认知 unaware", "有认知未投放 aware, not advertising", "已在投放 advertising already",
                      "专业 expert"],
    },
    # §4.3: disposition = stage + next follow-up + reminder. requires: "notes" and/or "callback" (a time).
    # next.action: callback (next.for caller|team, next.after_hours when no --callback is given), book_visit,
    # send_survey (next.form), mark_invalid, return_to_pool.
    "dispositions": {
        "connected": {"label": "接通 connected", "requires": [], "next": None},
        "no_answer": {"label": "无人接听 no answer", "requires": [],
                      "next": {"action": "callback", "for": "caller", "after_hours": 24}},
        "busy": {"label": "占线 busy", "requires": [], "next": {"action": "callback", "for": "caller",
                                                                "after_hours": 2}},
        "invalid_number": {"label": "无效号码 invalid number", "requires": ["notes"],
                           "next": {"action": "mark_invalid"}},
        "refused": {"label": "拒绝 refused", "requires": ["notes"], "next": {"action": "return_to_pool"}},
        "callback_requested": {"label": "要求回电 callback requested", "requires": ["callback"],
                               "next": {"action": "callback", "for": "team"}},
        "visit_booked": {"label": "预约拜访 visit booked", "requires": ["callback", "notes"],
                         "next": {"action": "book_visit"}},
        "deal": {"label": "成交 deal", "requires": ["notes"], "next": {"action": "send_survey", "form": "nps"}},
    },
    # §2.5: mandatory on manual entry; records created by import or the system without one get 系统客户.
    "sources": ["个人搜索-公共资源", "个人搜索-个人人脉", "老客户介绍", "公司资源", "CSC网单", SYSTEM_SOURCE],
    "default_source": SYSTEM_SOURCE,
    # Who must choose a source from the picklist when entering a customer or lead by hand (the issue: "a rep
    # entering a customer or lead by hand must choose one"); [] turns the rule off. Others may leave it empty
    # or use a source outside the picklist (an import mapping, a pack's campaign name).
    "source_required_for_roles": ["rep"],
    # The right panel: talk tracks by need and awareness category, and answers to common questions.
    "scripts": {
        "need": {
            "品牌曝光 brand exposure": "show how search placement puts the brand before buyers who search for it",
            "获客引流 lead generation": "walk through cost per lead against the customer's current channels",
            "销售转化 sales conversion": "tie keywords to the products that sell; propose a landing-page review",
            "暂无需求 no need yet": "ask about next season's plans; offer an industry case study",
        },
        "awareness": {
            "无认知 unaware": "explain how buyers search before they buy, with the industry's own keywords",
            "有认知未投放 aware, not advertising": "find what held them back; offer a small trial budget",
            "已在投放 advertising already": "compare results; show what a managed account adds",
            "专业 expert": "talk data: conversion tracking and bidding strategy",
        },
    },
    "objections": [
        {"question": "太贵了 too expensive", "answer": "compare with the cost of one trade show; start small"},
        {"question": "没效果 it does not work", "answer": "show a case from the same industry and region"},
        {"question": "再考虑考虑 let me think", "answer": "agree a date for the decision and what is needed by then"},
    ],
    # Phone claim mechanism (电话申领, OPEN): at most this many numbers a rep a day; returned when not called.
    "claim": {"daily": 100, "return_after_days": 2},
    # §2.6: new = the rep's first follow-up this month comes ≥ gap_days after that rep's previous one (or none).
    "new_customer": {"gap_days": 30, "inclusive": True},
}


class _Stage(Schema):
    stage = fields.Integer(required=True, validate=validate.Range(-9, 99))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    callback_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 3650))
    talk_track = fields.List(fields.String(), load_default=list)


class _Rule(Schema):
    annotations = fields.List(fields.String(validate=validate.OneOf(ANNOTATION_KEYS)), required=True,
                              validate=validate.Length(min=1))
    category = fields.String(required=True, validate=validate.OneOf(("need", "awareness")))


class _Next(Schema):
    action = fields.String(required=True, validate=validate.OneOf(NEXT_ACTIONS))
    for_ = fields.String(data_key="for", load_default="caller", validate=validate.OneOf(("caller", "team")))
    after_hours = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 24 * 365))
    form = fields.String(load_default=None, allow_none=True)


class _Disposition(Schema):
    label = fields.String(required=True)
    requires = fields.List(fields.String(validate=validate.OneOf(("notes", "callback"))), load_default=list)
    next = fields.Nested(_Next, allow_none=True, load_default=None)


class _Objection(Schema):
    question = fields.String(required=True)
    answer = fields.String(required=True)


class _Claim(Schema):
    daily = fields.Integer(required=True, validate=validate.Range(0, 100000))
    return_after_days = fields.Integer(required=True, validate=validate.Range(0, 365))


class _NewCustomer(Schema):
    gap_days = fields.Integer(required=True, validate=validate.Range(1, 3650))
    inclusive = fields.Boolean(required=True)


class SettingsSchema(Schema):
    """The shape of a call-center settings document."""

    intent_stages = fields.List(fields.Nested(_Stage), required=True, validate=validate.Length(min=1))
    annotations = fields.Dict(keys=fields.String(validate=validate.OneOf(ANNOTATION_KEYS)),
                              values=fields.String(), required=True)
    annotation_rules = fields.List(fields.Nested(_Rule), required=True)
    categories = fields.Dict(keys=fields.String(validate=validate.OneOf(("need", "awareness"))),
                             values=fields.List(fields.String(validate=validate.Length(min=1, max=100))),
                             required=True)
    dispositions = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=50)),
                               values=fields.Nested(_Disposition), required=True)
    sources = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                          validate=validate.Length(min=1))
    default_source = fields.String(required=True)
    source_required_for_roles = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                                            required=True)
    scripts = fields.Dict(keys=fields.String(validate=validate.OneOf(("need", "awareness"))),
                          values=fields.Dict(keys=fields.String(), values=fields.String()), required=True)
    objections = fields.List(fields.Nested(_Objection), required=True)
    claim = fields.Nested(_Claim, required=True)
    new_customer = fields.Nested(_NewCustomer, required=True)

    @validates_schema
    def consistent(self, data, **kwargs):
        stages = [s["stage"] for s in data["intent_stages"]]
        if len(set(stages)) != len(stages):
            raise ValidationError("each intent stage is listed once", "intent_stages")
        if data["default_source"] not in data["sources"]:
            raise ValidationError("the default source must be one of the sources", "default_source")


def load_settings(document):
    """Validate a complete settings ``document``; return it normalised, or raise ``Invalid`` naming problems."""
    if not isinstance(document, dict):
        raise Invalid("call-center settings are a JSON object")
    try:
        data = SettingsSchema().load(document)
    except ValidationError as exc:
        raise Invalid(f"invalid call-center settings: {exc.messages}") from None
    for name, disposition in data["dispositions"].items():
        if disposition["next"] is not None:
            disposition["next"]["for"] = disposition["next"].pop("for_")
    return data


DEFAULT = load_settings(DEFAULT_SETTINGS)


def settings_for(context):
    """The workspace's call-center settings: the default with its override laid over it (validated)."""
    from kehu.plugins.callcenter.models import CallcenterSettings

    row = CallcenterSettings.get_or_none(CallcenterSettings.workspace == context.workspace)
    if row is None or not row.document:
        return DEFAULT
    return load_settings(merge(DEFAULT_SETTINGS, row.document))


def stage(settings, number):
    """The intent stage ``number`` of ``settings`` (a dict), or ``Invalid`` listing the stages."""
    for item in settings["intent_stages"]:
        if item["stage"] == number:
            return item
    raise Invalid(f"intent stage must be one of {', '.join(str(s['stage']) for s in settings['intent_stages'])}, "
                  f"not {number!r}")
