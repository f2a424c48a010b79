"""Every kehu hook, documented.

Conventions (see STYLE.md):
- ``kehu_register_*`` hooks run once per plugin manager and receive a ``register`` callback; core checks
  names and collisions, and knows which plugin registered what.
- ``kehu_before_*`` hooks may veto records by returning :class:`kehu.Veto` objects; they never raise to
  veto. Core collects every answer, so plugin order never matters.
- Past-tense hooks (``kehu_records_created``, ``kehu_owner_changed`` ...) announce a committed change; they
  fire after the transaction commits and in every workspace only for the plugins enabled there.
- Lifecycle hooks take lists: a single-record operation is a batch of one, so bulk paths fire the same hooks.
- ``context`` is a :class:`kehu.core.context.Context`: ``context.workspace``, ``context.user`` (``None`` for
  the system), ``context.now`` (aware UTC) and ``context.services`` (the workspace's service namespaces).
- Only strategy hooks (``kehu_choose_*``) are ``firstresult``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("kehu")
hookimpl = pluggy.HookimplMarker("kehu")


# --- registration: once per plugin manager ------------------------------------------------------------


@hookspec
def kehu_register_models(register):
    """Declare the plugin's tables and migrations.

    Call ``register(models, migrations=DIRECTORY)`` once: ``models`` is a list of peewee models bound to
    :data:`kehu.core.db.database`; ``DIRECTORY`` holds numbered ``playhouse.migrations`` scripts. Each
    plugin's schema is versioned on its own (history table ``kehu_migrations_<plugin>``). On a fresh
    database the tables are created from the models and every migration is recorded as applied.
    """


@hookspec
def kehu_register_commands(cli):
    """Add click commands or groups to the root ``kehu`` group ``cli`` (``cli.add_command(group)``).

    Core wraps every command a plugin adds so it fails with code ``plugin_disabled`` in a workspace where
    the plugin is not enabled.
    """


@hookspec
def kehu_register_services(register):
    """Expose service namespaces to embedding callers: ``register("leads", {"claim": claim_lead, ...})``.

    Each function takes the :class:`~kehu.core.context.Context` first; ``app.workspace(...).leads.claim(7)``
    calls it with the handle's context. Calls fail with ``plugin_disabled`` where the plugin is off.
    """


@hookspec
def kehu_register_jobs(register):
    """Declare periodic work for ``kehu tick``: ``register(name, function, every="tick")``.

    ``every`` is ``tick`` (each run), ``day``, ``month``, ``quarter`` or ``year`` in the workspace timezone;
    a job runs at most once per period per workspace. ``function(context)`` must be idempotent and return
    a small JSON-able summary (or ``None``).
    """


@hookspec
def kehu_register_roles(register):
    """Add roles to every workspace: ``register(key, rank=, scope=own|unit|all, permissions=[...], label=)``.

    Existing workspaces receive a new role when the plugin is enabled there; a workspace's own edits to a
    role are never overwritten.
    """


@hookspec
def kehu_register_policies(register):
    """Declare default policy documents: ``register(name, default_document, validate=callable)``.

    A workspace or an industry pack overrides them; ``validate(document)`` raises :class:`kehu.Invalid`.
    """


@hookspec
def kehu_register_templates(register):
    """Declare industry packs: ``register(key, pack_document)``. Installed per workspace by the templates plugin."""


@hookspec
def kehu_register_reports(register):
    """Add reports to ``kehu reports``: ``register(name, function, description)``.

    ``function(context, start, end, unit, rep)`` returns ``{"columns": [...], "rows": [[...], ...]}``
    already restricted to what ``context.user`` may see.
    """


@hookspec
def kehu_assignment_strategies(register):
    """Add lead-assignment strategies: ``register(name, function)`` (used by the leads plugin)."""


@hookspec
def kehu_register_api(api):
    """Add HTTP routes to the WSGI application ``api`` (when the HTTP API is present)."""


# --- workspace lifecycle ---------------------------------------------------------------------------


@hookspec
def kehu_workspace_created(context):
    """A workspace is being created with this plugin enabled: seed its default data (pools, forms, ...).

    Runs inside the creating transaction, so a failure leaves no half-made workspace.
    """


@hookspec
def kehu_plugin_enabled(context, plugin):
    """``plugin`` (a name) is being enabled in ``context.workspace``; the plugin itself receives this too.

    Runs inside the enabling transaction. Seed missing defaults here; data kept from an earlier
    enablement must be left as it is.
    """


@hookspec
def kehu_plugin_disabled(context, plugin):
    """``plugin`` was disabled in ``context.workspace``. Its data stays; its hooks stop running there."""


# --- record lifecycle (batch-first) --------------------------------------------------------------------


@hookspec
def kehu_before_create(context, entity, records, origin):
    """Check records before they are created; return ``None`` or a list aligned with ``records``.

    ``entity`` is ``customer``, ``contact``, ``opportunity``, ``activity`` or a plugin's entity (``lead``).
    ``records`` are dicts of validated values; a hook may fill in a value that is missing (``None``) but must
    not overwrite one already set. ``origin`` says where they come from: ``manual`` (a person typed them),
    ``import`` or ``system``. Each list item is ``None`` (no objection) or a :class:`kehu.Veto`; a vetoed
    record is rejected and reported, and the rest of the batch goes on.
    """


@hookspec
def kehu_before_update(context, entity, changes):
    """Check updates before they are written; return ``None`` or a list of ``Veto | None`` aligned with ``changes``.

    ``changes`` is a list of ``(record, patch)``: ``record`` the stored values (a dict), ``patch`` the new ones.
    """


@hookspec
def kehu_before_delete(context, entity, records):
    """Check deletions; return ``None`` or a list of ``Veto | None`` aligned with ``records`` (dicts)."""


@hookspec
def kehu_records_created(context, entity, records):
    """Records were created and committed. ``records`` are dicts including ``id``."""


@hookspec
def kehu_records_updated(context, entity, changes):
    """Records were updated and committed. ``changes`` is a list of ``(before, after)`` dicts."""


@hookspec
def kehu_records_deleted(context, entity, records):
    """Records were deleted and committed (dicts as they were)."""


@hookspec
def kehu_owner_changed(context, entity, changes):
    """Ownership changed and was committed: ``changes`` is a list of :class:`kehu.core.context.OwnerChange`."""


@hookspec
def kehu_activities_logged(context, activities):
    """Activities (calls, visits, notes, tasks) were logged and committed; dicts including ``id``."""


@hookspec
def kehu_user_deactivated(context, user, handover):
    """A user was deactivated (dict); ``handover`` is the successor's dict or ``None``.

    Plugins hand back what the user held (the leads plugin returns held leads to the pool or the successor).
    Runs inside the deactivation's transaction, so a failure leaves the user active.
    """


@hookspec
def kehu_access_granted(context, entity, record_id):
    """Grant the acting user working access (view, log activities) to record ``record_id`` of ``entity``
    outside their data scope: return ``True`` to grant, ``None``/``False`` to say nothing.

    For rights a plugin hands out for a reason, e.g. a phone claim lets a rep call a customer nobody owns.
    Every implementation is asked and any grant counts (never ``firstresult``); a grant never allows editing
    or deleting — those stay with the owner's scope.
    """


# --- delivery ------------------------------------------------------------------------------------------


@hookspec
def kehu_notify(context, notifications):
    """Deliver notifications (list of :class:`kehu.core.context.Notice`). Every implementation runs.

    Core's own implementation stores them for ``kehu inbox``; a plugin may also e-mail or push them.
    """


# --- the demo ------------------------------------------------------------------------------------------


@hookspec
def kehu_populate_demo(context, customers, say):
    """Add this plugin's sample records to the ``kehu demo`` workspace, through its own services.

    ``customers`` maps demo keys (``group``, ``east``, ``hz``, ``tea``, ``nj``, ``bj``) to customer ids;
    ``say(line)`` adds a line to the printed tour. ``context`` acts as the workspace admin.
    """


# --- leads (announced by the leads plugin; any plugin may listen) ------------------------------------------


@hookspec
def kehu_leads_moved(context, moves):
    """Leads changed state or holder (claimed, assigned, transferred, released, recycled, converted ...).

    ``moves`` is a list of :class:`kehu.plugins.leads.machine.Move` (lead id, from/to state, from/to holder
    ids, reason code), one call per committed batch: bulk assignment, imports and the sweep announce their
    whole batch at once.
    """


# --- credit (announced by the credit plugin; any plugin may listen) ---------------------------------------


@hookspec
def kehu_credit_graded(context, gradings):
    """Customers were graded (computed or decided in the yearly review) and committed.

    ``gradings`` is a list of dicts: ``customer``, ``grade``, ``kind`` (``computed`` | ``decided``), ``score``
    (decimal string or ``None``), ``credit_limit``, ``credit_days``; one call per committed batch.
    """


@hookspec
def kehu_approval_decided(context, approval):
    """An approver decided a step of an approval chain (over-limit credit, write-off, settlement in goods,
    repayment agreement) and it was committed. ``approval`` is the approval as a dict: ``id``, ``kind``,
    ``status`` (``pending`` while later approvers remain, ``approved``, ``rejected``), ``chain``, ``step``."""


# --- cross-plugin actions (DESIGN decision 4: run inside the asking plugin's transaction) -----------------


@hookspec
def kehu_return_lead_to_pool(context, lead_id, reason):
    """Return lead ``lead_id`` to its pool as part of another plugin's operation (a call disposition).

    The plugin owning leads answers with a dict describing what it did (``{"lead", "state", ...}``) or raises a
    kehu error; no answer at all (``[]`` from the relay) means no enabled plugin does it: the caller reports
    ``skipped: plugin_disabled`` and carries on. Runs inside the caller's transaction.
    """


@hookspec
def kehu_request_survey(context, customer_id, form, after):
    """Send survey ``form`` to customer ``customer_id`` (``after``: the record that prompted it, e.g.
    ``activity:12``) as part of another plugin's operation. The survey plugin answers with a dict (the
    response slot, with its token); no answer means no enabled plugin sends surveys (``skipped:
    plugin_disabled``). Runs inside the caller's transaction.
    """


@hookspec
def kehu_survey_answered(context, responses):
    """Surveys were answered and committed: ``responses`` are dicts with ``customer``, ``form``, ``answers``
    and the figures (``nps``, ``csat_points``, ``csat_max``, ``expectation``, ``perception``)."""


@hookspec
def kehu_customer_scores(context, customer_ids):
    """Satisfaction figures of customers, for plugins that grade them (credit, customer value).

    Return ``{customer_id: {"nps": int | None, "csat": Decimal | None, "responses": int}}`` for the customers
    you know (the survey plugin answers from answered surveys), or ``None``. Every answer is collected; where
    no enabled plugin answers, callers get no scores (``[]``) and grade without them.
    """
