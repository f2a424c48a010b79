"""kehu's built-in plugins. Each registers through the same hooks as a third-party plugin."""
