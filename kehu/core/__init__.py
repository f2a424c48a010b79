"""kehu core: entities, storage, the plugin manager, hookspecs and the services every plugin shares."""
