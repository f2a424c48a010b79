pytest_plugins = ["kehu.testing"]
