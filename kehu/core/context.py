"""The context every service and hook receives, the ``service`` decorator, audit rows and vetoes."""

import functools
import logging

import attrs

from kehu.core.db import database, utcnow
from kehu.core.models import Event
from kehu.core.timeutil import zone
from kehu.errors import PluginDisabled, Veto, Vetoed

log = logging.getLogger(__name__)


@attrs.frozen
class OwnerChange:
    """One record's owner changing (``kehu_owner_changed``); owners are user ids or ``None``."""

    entity: str
    id: int
    old_owner: int | None
    new_owner: int | None
    reason: str


@attrs.frozen
class Notice:
    """A message for one user (``kehu_notify``)."""

    user_id: int
    kind: str
    message: str
    entity: str | None = None


@attrs.define(eq=False)
class Context:
    """Who acts, in which workspace, at what time, with which plugins.

    ``user`` is a :class:`~kehu.core.models.User` row or ``None`` for the system; ``now`` is aware UTC.
    """

    app: object
    workspace: object
    user: object
    clock: object  # a fixed instant (``--now``) or None for the real clock
    enabled: frozenset
    cache: dict = attrs.field(factory=dict)
    _after_commit: list = attrs.field(factory=list)
    _depth: int = 0
    _pinned: object = None

    @property
    def now(self):
        """The instant of this operation: ``clock`` when fixed, else pinned for the length of a service call."""
        return self.clock or self._pinned or utcnow()

    @property
    def hooks(self):
        """The hook relay of this workspace: disabled plugins' hooks never run."""
        return self.app.pm.relay(self.enabled)

    @property
    def tz(self):
        return zone(self.workspace.timezone)

    @property
    def services(self):
        """The workspace's service namespaces (``context.services.customers.create(...)``)."""
        from kehu.core.app import ServiceHandle

        return ServiceHandle(self)

    @property
    def actor_label(self):
        return self.user.login if self.user is not None else "system"

    def plugin_enabled(self, name):
        return name == "core" or name in self.enabled

    def require_plugin(self, name):
        if not self.plugin_enabled(name):
            raise PluginDisabled(f"plugin {name} is not enabled in workspace {self.workspace.name}")

    def after_commit(self, callback):
        """Run ``callback()`` once the outermost service transaction has committed."""
        if self._depth == 0:
            callback()
        else:
            self._after_commit.append(callback)

    def audit(self, action, entity_type, entity_id=None, before=None, after=None):
        """Write one audit row in the current transaction."""
        Event.create(workspace=self.workspace, actor=self.user, at=self.now, action=action,
                     entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id),
                     before=before, after=after)

    def vetoes(self, hook_name, items, **arguments):
        """Ask a ``kehu_before_*`` hook about ``items``; return a list (aligned) of lists of Vetoes."""
        answers = getattr(self.hooks, hook_name)(context=self, **arguments)
        found = [[] for _ in items]
        for answer in answers:
            if answer is None:
                continue
            if isinstance(answer, Veto):  # a single Veto refuses a batch of one
                answer = [answer] * len(items)
            for index, veto in enumerate(answer):
                if veto is not None:
                    found[index].append(veto)
        return found

    def raise_if_vetoed(self, hook_name, items, **arguments):
        """For single-record services: fail with code ``vetoed`` listing every reason."""
        found = self.vetoes(hook_name, items, **arguments)
        reasons = sorted(veto.reason for vetoes in found for veto in vetoes)  # stable whatever the order
        if reasons:
            raise Vetoed("vetoed: " + "; ".join(reasons), details={"reasons": reasons})

    def notify(self, notices):
        """Deliver notices through ``kehu_notify`` once the transaction commits."""
        notices = list(notices)
        if notices:
            self.after_commit(lambda: self.hooks.kehu_notify(context=self, notifications=notices))


def service(function):
    """Make ``function(context, ...)`` one transaction; hooks queued with ``after_commit`` fire after it.

    Nested service calls join the outer transaction; only the outermost commit fires the queue.
    """

    @functools.wraps(function)
    def run(context, *args, **kwargs):
        if context._depth == 0:
            context._pinned = utcnow()
        context._depth += 1
        queued_before = len(context._after_commit)
        try:
            with database.atomic():
                result = function(context, *args, **kwargs)
        except BaseException:
            context._depth -= 1
            # This call's savepoint (or transaction) rolled back: drop what it queued, even when an outer
            # service catches the error and commits the rest.
            del context._after_commit[queued_before:]
            if context._depth == 0:
                context._pinned = None
            raise
        context._depth -= 1
        if context._depth == 0:
            queued, context._after_commit = context._after_commit, []
            for callback in queued:
                try:
                    callback()
                except Exception:
                    # The change is committed: a failing listener is logged, and must not make the caller
                    # believe it was not (nor stop the other listeners).
                    log.exception("a hook announcing a committed change failed")
            context._pinned = None  # pinned for the length of one call, not for the rest of the handle's life
        return result

    run.is_service = True
    return run
