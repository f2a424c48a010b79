"""Survey forms as data (DOMAIN.md §5.1): the default forms, the workspace's own forms, and their validation.

A form is ``{"key", "title", "description"?, "questions": [...]}``; a question is
``{"key", "text", "type", "required", ...}`` with, by type:

* ``scale``: ``max`` 5 or 10 (the minimum is always 1);
* ``nps``: 0–10 (at most one per form: it is the response's NPS answer);
* ``choice``: ``choices`` (distinct, non-empty texts) and ``multiple`` (default false: one choice);
* ``text``: ``max_length`` (default 2000).

A scale question may carry ``role``: ``expectation`` or ``perception``, the a and b of satisfaction C = b/a
(§5.4); a form has at most one of each, and when it has both they share one scale (a ratio of answers on
different scales means nothing).

Decisions:

* The defaults live here, in code (DESIGN rule 7: policy as validated data); a workspace adds forms with
  ``kehu survey form add FILE.json``. A workspace form with a default's key overrides that default in that
  workspace only; adding a key the workspace already has replaces its form (a response keeps the form as it was
  sent, so old answers are never reinterpreted).
* Adding a form takes a manager or above (or admin, or the system).
"""

import copy

from marshmallow import ValidationError, fields, validate, validates_schema

from kehu.core import access
from kehu.core.context import service
from kehu.core.db import to_utc
from kehu.core.schemas import FIELD_NAME_RE, StrictSchema, Text, load
from kehu.errors import Invalid, NotFound
from kehu.plugins.survey.models import SurveyForm

QUESTION_TYPES = ("scale", "nps", "choice", "text")
SCALE_MAXIMA = (5, 10)
ROLES = ("expectation", "perception")
TEXT_MAX_LENGTH = 2000


def _q(key, text, type_, required=False, **extra):
    return {"key": key, "text": text, "type": type_, "required": required, **extra}


SATISFACTION_LEVELS = ["非常满意 very satisfied", "满意 satisfied", "一般 neutral", "不满意 dissatisfied",
                       "非常不满意 very dissatisfied"]

# DOMAIN.md §5.1 (fields OPEN in the sources: these are kehu's defaults) and the issue's ``nps`` form.
DEFAULT_FORMS = {
    "visit": {
        "key": "visit", "title": "客户拜访调查表 visit survey",
        "description": "Filled in after each planned visit: what the visit found.",
        "questions": [
            _q("purpose_met", "本次拜访目的是否达成 Was the visit's purpose met?", "choice", True,
               choices=["是 yes", "部分 partly", "否 no"]),
            _q("findings", "拜访发现 Findings", "text", True, max_length=2000),
            _q("needs", "客户需求 Customer needs", "text", False, max_length=2000),
            _q("competitors", "竞争对手情况 Competitors seen", "text", False, max_length=1000),
            _q("relationship", "客户关系 Relationship with the customer (1–5)", "scale", False, max=5),
            _q("next_steps", "下一步 Next steps", "text", False, max_length=1000),
        ],
    },
    "satisfaction": {
        "key": "satisfaction", "title": "顾客满意度调查表 satisfaction survey",
        "description": "Handed out during visits, or filled in by the rep from the customer's answers.",
        "questions": [
            _q("service_quality", "服务质量 Service quality (1–5)", "scale", True, max=5),
            _q("product_quality", "产品质量 Product quality (1–5)", "scale", True, max=5),
            _q("expectation", "您对我们的期望 What you expected of us (1–10)", "scale", False, max=10,
               role="expectation"),
            _q("perception", "您的实际感受 What you experienced (1–10)", "scale", False, max=10,
               role="perception"),
            _q("comments", "意见 Comments", "text", False, max_length=2000),
        ],
    },
    "feedback": {
        "key": "feedback", "title": "用户信息反馈单 user feedback form",
        "description": "Opinions and suggestions on service and product.",
        "questions": [
            _q("topic", "反馈类别 About", "choice", True,
               choices=["服务 service", "产品 product", "价格 price", "其他 other"], multiple=True),
            _q("service_opinion", "对服务的意见和建议 Opinions and suggestions on our service", "text", False,
               max_length=2000),
            _q("product_opinion", "对产品的意见和建议 Opinions and suggestions on our products", "text", False,
               max_length=2000),
            _q("satisfaction", "总体满意度 Overall satisfaction", "choice", False, choices=SATISFACTION_LEVELS),
            _q("contact_back", "是否需要回复 Do you want a reply?", "choice", False, choices=["是 yes", "否 no"]),
        ],
    },
    "nps": {
        "key": "nps", "title": "客户推荐度 NPS",
        "description": "How likely is it that you would recommend us to a friend or colleague?",
        "questions": [
            _q("score", "您向朋友或同事推荐我们的可能性有多大? (0–10)", "nps", True),
            _q("reason", "主要原因 The main reason for your score", "text", False, max_length=2000),
        ],
    },
}


# --- validation -------------------------------------------------------------------------------------------


class QuestionInput(StrictSchema):
    key = fields.String(required=True, validate=validate.Regexp(
        FIELD_NAME_RE, error="a question key is lower-case letters, digits and _, starting with a letter"))
    text = Text(required=True, validate=validate.Length(max=500))
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    required = fields.Boolean(load_default=False)
    max = fields.Integer(strict=True, load_default=None, allow_none=True)
    choices = fields.List(Text(validate=validate.Length(max=200)), load_default=None, allow_none=True)
    multiple = fields.Boolean(load_default=False)
    max_length = fields.Integer(strict=True, load_default=None, allow_none=True,
                                validate=validate.Range(min=1, max=TEXT_MAX_LENGTH))
    role = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROLES))

    @validates_schema
    def _by_type(self, data, **kwargs):
        kind = data.get("type")
        if kind == "scale" and data.get("max") not in SCALE_MAXIMA:
            raise ValidationError("a scale question needs max 5 or 10", "max")
        if kind != "scale" and data.get("max") is not None:
            raise ValidationError("only a scale question has a max", "max")
        if kind == "choice":
            choices = data.get("choices") or []
            if not choices:
                raise ValidationError("a choice question needs choices", "choices")
            if len(set(choices)) != len(choices):
                raise ValidationError("choices must be distinct", "choices")
        elif data.get("choices") is not None:
            raise ValidationError("only a choice question has choices", "choices")
        if kind != "text" and data.get("max_length") is not None:
            raise ValidationError("only a text question has a max_length", "max_length")
        if data.get("role") is not None and kind != "scale":
            raise ValidationError("only a scale question may be the expectation or the perception", "role")


class FormInput(StrictSchema):
    key = fields.String(required=True, validate=validate.Regexp(
        FIELD_NAME_RE, error="a form key is lower-case letters, digits and _, starting with a letter"))
    title = Text(required=True, validate=validate.Length(max=200))
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    questions = fields.List(fields.Nested(QuestionInput), required=True,
                            validate=validate.Length(min=1, max=200, error="a form has 1 to 200 questions"))

    @validates_schema
    def _across_questions(self, data, **kwargs):
        questions = data.get("questions") or []
        keys = [q["key"] for q in questions]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValidationError(f"question keys must be unique: {', '.join(twice)}", "questions")
        if sum(q["type"] == "nps" for q in questions) > 1:
            raise ValidationError("a form has at most one nps question", "questions")
        roles = {}
        for question in questions:
            if question.get("role"):
                if question["role"] in roles:
                    raise ValidationError(f"a form has at most one {question['role']} question", "questions")
                roles[question["role"]] = question
        if len(roles) == 2 and roles["expectation"]["max"] != roles["perception"]["max"]:
            raise ValidationError("the expectation and perception questions must use the same scale",
                                  "questions")


def normalized(question):
    """A loaded question without the options its type does not use (stored and shown compactly)."""
    out = {"key": question["key"], "text": question["text"], "type": question["type"],
           "required": question["required"]}
    kind = question["type"]
    if kind == "scale":
        out["max"] = question["max"]
    elif kind == "choice":
        out["choices"] = list(question["choices"])
        out["multiple"] = question["multiple"]
    elif kind == "text":
        out["max_length"] = question["max_length"] or TEXT_MAX_LENGTH
    if question.get("role"):
        out["role"] = question["role"]
    return out


def validate_form(raw):
    """``raw`` (a dict as read from JSON) as a clean form, or :class:`~kehu.errors.Invalid` naming each
    problem (``questions: 1: max: a scale question needs max 5 or 10``)."""
    if not isinstance(raw, dict):
        raise Invalid("a form is a JSON object with key, title and questions")
    data = load(FormInput(), raw)
    return {"key": data["key"], "title": data["title"], "description": data["description"],
            "questions": [normalized(q) for q in data["questions"]]}


# --- lookup -----------------------------------------------------------------------------------------------


def _default(key):
    form = DEFAULT_FORMS.get(key)
    return None if form is None else {"description": None, **copy.deepcopy(form)}


def _stored(row):
    """A workspace row as a form. The table has no description column, so ``questions`` stores the document
    ``{"description", "questions"}`` (a bare list of questions is read too)."""
    document = row.questions
    if isinstance(document, dict):
        return {"key": row.key, "title": row.title, "description": document.get("description"),
                "questions": copy.deepcopy(document["questions"])}
    return {"key": row.key, "title": row.title, "description": None, "questions": copy.deepcopy(document)}


def form_for(context, key):
    """The form ``key`` in force in this workspace (its own, else the default), with ``source``; not_found."""
    key = str(key or "").strip()
    row = SurveyForm.get_or_none(SurveyForm.workspace == context.workspace, SurveyForm.key == key)
    if row is not None:
        return {**_stored(row), "source": "workspace"}
    form = _default(key)
    if form is None:
        known = ", ".join(sorted(f["key"] for f in all_forms(context)))
        raise NotFound(f"no survey form {key!r} (forms: {known})")
    return {**form, "source": "default"}


def all_forms(context):
    """Every form in force: the defaults, overridden by workspace forms of the same key, then the rest."""
    rows = {row.key: row for row in SurveyForm.select().where(SurveyForm.workspace == context.workspace)}
    forms = [{**_stored(rows.pop(key)), "source": "workspace"} if key in rows else {**_default(key),
                                                                                    "source": "default"}
             for key in DEFAULT_FORMS]
    forms += [{**_stored(rows[key]), "source": "workspace"} for key in sorted(rows)]
    return forms


# --- services ---------------------------------------------------------------------------------------------


def list_forms(context):
    """The forms of this workspace: ``[{"key", "title", "questions" (count), "source"}]`` (defaults first)."""
    return [{"key": f["key"], "title": f["title"], "questions": len(f["questions"]), "source": f["source"]}
            for f in all_forms(context)]


def show_form(context, key):
    """The form ``key`` in force here, whole: ``{"key", "title", "description", "questions", "source"}``."""
    return form_for(context, key)


@service
def add_form(context, form):
    """Add (or replace) a workspace form from ``form`` (a dict, as read from FILE.json), validated whole.

    Manager or above. A default's key overrides that default in this workspace. Audited as
    ``survey.form_added`` (with the replaced form as ``before``). Returns the form and ``"replaced"``.
    """
    access.require_manager(context, "add survey forms")
    data = validate_form(form)
    document = {"description": data["description"], "questions": data["questions"]}
    row = SurveyForm.get_or_none(SurveyForm.workspace == context.workspace, SurveyForm.key == data["key"])
    before = None
    if row is None:
        row = SurveyForm.create(workspace=context.workspace, key=data["key"], title=data["title"],
                                questions=document, created_at=context.now)
    else:
        before = _stored(row)
        row.title, row.questions, row.created_at = data["title"], document, context.now
        row.save()
    context.audit("survey.form_added", "survey_form", row.id, before=before, after=data)
    return {**data, "source": "workspace", "replaced": before is not None,
            "added_at": to_utc(row.created_at).isoformat()}


SERVICES = {"forms": list_forms, "form": show_form, "add_form": add_form}
