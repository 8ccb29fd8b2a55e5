"""Generate the API reference: one page per public module of the ``twelve`` package.

mkdocs-gen-files runs this at every build (``mkdocs.yml``); the pages exist only in the build,
never in ``docs/``. It walks the package's source tree instead of listing modules, so when modules
move into sub-packages the reference, its navigation (``reference/SUMMARY.md``, read by
mkdocs-literate-nav) and its page addresses follow without editing a docs page. Skipped: the
cookiecutter template (Jinja until ``twelve new`` renders it) and private modules (``_name``).
"""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files
from mkdocs.structure.files import InclusionLevel

ROOT = Path(mkdocs_gen_files.config.config_file_path).resolve().parent
SOURCE = ROOT / "platform" / "src"
PACKAGE = SOURCE / "twelve"
SKIPPED_FOLDERS = {"template"}  # scaffold/template: data for cookiecutter, not modules

if not (PACKAGE / "__init__.py").is_file():
    raise SystemExit(f"the API reference is generated from {PACKAGE}, which is not a package")


def is_documented(relative: Path) -> bool:
    """Public modules outside the template: ``__init__`` stands for its package."""
    if SKIPPED_FOLDERS & set(relative.parts[:-1]):
        return False
    names = [*relative.parent.parts, relative.stem]
    return not any(name.startswith("_") and name != "__init__" for name in names)


nav = mkdocs_gen_files.Nav()
for path in sorted(PACKAGE.rglob("*.py")):
    relative = path.relative_to(PACKAGE)
    if not is_documented(relative):
        continue
    parts = ("twelve", *relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        page = Path(*parts, "index.md")
    else:
        page = Path(*parts).with_suffix(".md")
    identifier = ".".join(parts)
    nav[parts] = page.as_posix()
    with mkdocs_gen_files.open(Path("reference", page), "w") as handle:
        handle.write(f"# `{identifier}`\n\n::: {identifier}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", page), path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as handle:
    handle.writelines(nav.build_literate_nav())
# literate-nav reads it; as a page of its own it would be an orphan copy of the navigation.
summary = mkdocs_gen_files.files.get_file_from_path("reference/SUMMARY.md")
summary.inclusion = InclusionLevel.EXCLUDED
