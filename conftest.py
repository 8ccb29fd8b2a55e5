"""Root pytest configuration: the shared fixtures come from the ``twelve.testing`` plugin."""

pytest_plugins = ["twelve.testing"]
