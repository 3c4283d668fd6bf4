# Thin on purpose: the harness lives in the fixtures package.
pytest_plugins = ["fixtures.plugin"]
