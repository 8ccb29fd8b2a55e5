"""The one error of turning a model version into a bento."""


class BentoBuildError(RuntimeError):
    """A step of turning a model version into a bento failed (the message says which and why)."""
