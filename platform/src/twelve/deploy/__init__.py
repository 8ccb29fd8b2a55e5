"""Deployable artifacts (factor 12): a registered model version becomes a bento."""
