"""Refuse invalid inputs before anything is written (the rules live in twelve.scaffold.generate)."""

import sys

from twelve.scaffold.generate import ScaffoldError, validate_context

CONTEXT = {
    "name": "{{ cookiecutter.name }}",
    "problem_type": "{{ cookiecutter.problem_type }}",
    "entity_keys": "{{ cookiecutter.entity_keys }}",
    "description": "{{ cookiecutter.description }}",
    "sample_rows": "{{ cookiecutter.sample_rows }}",
}

try:
    validate_context(CONTEXT)
except ScaffoldError as error:
    sys.stderr.write(f"twelve template: {error}\n")
    sys.exit(1)
