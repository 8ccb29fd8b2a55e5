"""Proof of the factors: reproduce a training run, audit a project."""
