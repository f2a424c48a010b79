"""The plugin manager: discovery (built-ins and the ``kehu.plugins`` entry points) and per-workspace relays.

No manager exists at import time: :func:`make_plugin_manager` builds one (one per :class:`~kehu.core.app.App`,
and so a fresh one per test). Each workspace calls hooks through a :class:`HookRelay`, a pluggy
``subset_hook_caller`` view that leaves out the plugins the workspace has not enabled.
"""

import importlib
import importlib.metadata
import logging

import attrs
import pluggy

import kehu
from kehu.core import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kehu.plugins"
BUILTIN_PLUGINS = ("leads", "credit", "callcenter", "survey", "templates")
BUILTIN_PACKAGE = "kehu.plugins"
# Core's own hook implementations: registered first, always on, cannot be disabled.
CORE_PLUGIN_NAME = "core"
CORE_PLUGIN_MODULE = "kehu.core.defaults"


@attrs.define
class PluginInfo:
    """What kehu knows about one installed plugin."""

    name: str
    version: str
    builtin: bool
    module: object = None
    requires: tuple = ()
    description: str = ""
    error: str | None = None  # set when the plugin failed to load; it is then never registered

    @property
    def loaded(self):
        return self.error is None


def _describe(module):
    doc = (getattr(module, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _entry_point_version(entry_point):
    dist = getattr(entry_point, "dist", None)
    return getattr(dist, "version", None) or "unknown"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus kehu's plugin catalogue (:attr:`infos`)."""

    def __init__(self):
        super().__init__("kehu")
        self.add_hookspecs(hookspecs)
        self.infos = {}

    def add_plugin(self, name, module, version, builtin):
        requires = tuple(getattr(module, "requires", ()) or ())
        info = PluginInfo(name, version, builtin, module, requires, _describe(module))
        self.register(module, name=name)
        self.infos[name] = info
        return info

    def add_broken(self, name, version, builtin, error):
        # A plugin that fails to import is listed with its error instead of crashing the CLI.
        log.warning("kehu plugin %s failed to load: %s", name, error)
        self.infos[name] = PluginInfo(name, version, builtin, None, (), "", error)

    @property
    def optional_plugins(self):
        """Plugins a workspace may enable or disable (everything but core), loaded ones only."""
        return {n: i for n, i in self.infos.items() if n != CORE_PLUGIN_NAME and i.loaded}

    def relay(self, enabled):
        """A :class:`HookRelay` calling only core and the plugins named in ``enabled``."""
        enabled = frozenset(enabled)
        cache = self.__dict__.setdefault("_relays", {})
        if enabled not in cache:
            removed = [
                self.get_plugin(name)
                for name in self.optional_plugins
                if name not in enabled and self.get_plugin(name) is not None
            ]
            cache[enabled] = HookRelay(self, removed)
        return cache[enabled]


class HookRelay:
    """``relay.kehu_<hook>(...)`` calls the hook on the workspace's enabled plugins only."""

    def __init__(self, pm, removed_plugins):
        self._pm = pm
        self._removed = removed_plugins
        self._callers = {}

    def __getattr__(self, name):
        if not name.startswith("kehu_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            if self._removed:
                caller = self._pm.subset_hook_caller(name, self._removed)
            else:
                caller = getattr(self._pm.hook, name)
            self._callers[name] = caller
        return caller


def make_plugin_manager(load_entry_points=True, extra_plugins=()):
    """Build a plugin manager: core, the built-ins, then every ``kehu.plugins`` entry point.

    ``extra_plugins`` is a sequence of ``(name, module_or_object)`` registered as third-party plugins
    (tests and embedding callers use it to add a plugin without installing a package).
    """
    pm = PluginManager()
    core = importlib.import_module(CORE_PLUGIN_MODULE)
    pm.add_plugin(CORE_PLUGIN_NAME, core, kehu.__version__, builtin=True)
    for name in BUILTIN_PLUGINS:
        # Imported by name, like any entry point: core has no static import of a plugin (rule 2).
        try:
            module = importlib.import_module(f"{BUILTIN_PACKAGE}.{name}")
        except Exception as exc:  # pragma: no cover - a broken checkout
            pm.add_broken(name, kehu.__version__, True, f"{type(exc).__name__}: {exc}")
            continue
        pm.add_plugin(name, module, kehu.__version__, builtin=True)
    if load_entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in pm.infos:
                log.warning("kehu plugin %s is installed twice; keeping the first", entry_point.name)
                continue
            version = _entry_point_version(entry_point)
            try:
                module = entry_point.load()
                pm.add_plugin(entry_point.name, module, version, builtin=False)
                _check_own_hooks(pm, entry_point.name)
            except Exception as exc:
                # One broken third-party plugin is listed with its error; it never breaks the rest.
                if pm.get_plugin(entry_point.name) is not None:
                    pm.unregister(name=entry_point.name)
                pm.add_broken(entry_point.name, version, False, f"{type(exc).__name__}: {exc}")
                continue
    for name, plugin in extra_plugins:
        version = getattr(plugin, "__version__", "unknown")
        pm.add_plugin(name, plugin, version, builtin=False)
    # A misspelled hook name fails here, at start, instead of silently never running.
    pm.check_pending()
    return pm


def _check_own_hooks(pm, plugin_name):
    """Raise when ``plugin_name`` implements a hook kehu does not define (a misspelling would never run)."""
    plugin = pm.get_plugin(plugin_name)
    unknown = sorted(
        name for name, caller in vars(pm.hook).items()
        if hasattr(caller, "get_hookimpls") and not caller.has_spec()
        and any(impl.plugin is plugin for impl in caller.get_hookimpls())
    )
    if unknown:
        raise pluggy.PluginValidationError(plugin, f"unknown hook(s): {', '.join(unknown)}")


def call_each(pm, hook_name, arguments_for):
    """Call a registration hook plugin by plugin, so core knows which plugin registered what.

    ``arguments_for(plugin_name)`` returns the hook's keyword arguments for that plugin (typically a
    ``register`` callback that records the plugin's name beside what it registers).
    """
    caller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():
        arguments = arguments_for(impl.plugin_name)
        impl.function(**{name: arguments[name] for name in impl.argnames})
