"""twelve: the reusable library of the twelve-factor ML platform.

Import name `twelve` (a package named `platform` would shadow Python's own module). Submodules are
imported lazily by their users; importing `twelve` itself does nothing heavy.
"""

__version__ = "0.1.0"
