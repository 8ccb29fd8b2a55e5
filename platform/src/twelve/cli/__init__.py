"""The ``twelve`` command line and the runners it drives."""
