"""kehu (客户): a plugin-based, headless CRM framework.

Embedding::

    import kehu
    app = kehu.connect("sqlite:///crm.db")
    ws = app.workspace("acme", user="admin")
    ws.customers.create(name="Hangzhou Tea Co.")
"""

__version__ = "0.1.0"

from kehu.errors import (  # noqa: E402
    Conflict,
    Invalid,
    KehuError,
    NotFound,
    PermissionDenied,
    PluginDisabled,
    Veto,
    Vetoed,
)
from kehu.core.hookspecs import hookimpl  # noqa: E402


def connect(url=None, **options):
    """Open (and, on first use, migrate) the kehu database at ``url``; return an :class:`kehu.core.app.App`."""
    from kehu.core.app import App

    return App.open(url, **options)


__all__ = [
    "__version__",
    "connect",
    "hookimpl",
    "Conflict",
    "Invalid",
    "KehuError",
    "NotFound",
    "PermissionDenied",
    "PluginDisabled",
    "Veto",
    "Vetoed",
]
