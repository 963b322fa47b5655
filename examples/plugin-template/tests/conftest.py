# wfe_core.testing gives the fixtures and the ActionContract base class.
pytest_plugins = ["wfe_core.testing"]
