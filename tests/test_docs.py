"""The docs site builds strictly: a broken link, a missing anchor or a page left out fails.

The site is read offline (nothing it loads comes from another host) and carries an API
reference generated from the docstrings of every public module of ``twelve``. Every repository
path the docs and the README name in inline code exists.
"""

from __future__ import annotations

import ast
import html
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from twelve.core.paths import REPO_ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"


PACKAGE = REPO_ROOT / "platform" / "src" / "twelve"


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `make docs` builds it (one build for the tests that read it)."""
    site = tmp_path_factory.mktemp("docs") / "site"
    completed = build(REPO_ROOT / "mkdocs.yml", site)
    assert completed.returncode == 0, completed.stderr
    return site


def nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def test_the_docs_build_strictly_with_every_page(site):
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())
    docs = REPO_ROOT / "docs"
    on_disk = {path.relative_to(docs).as_posix() for path in docs.rglob("*.md")}
    # `reference/` is generated at build time (docs/gen_ref_pages.py), not a page on disk.
    assert {page for page in nav_pages(config["nav"]) if not page.endswith("/")} == on_disk
    for page in on_disk:
        # mkdocs' directory URLs: factors/05-testing.md -> factors/05-testing/index.html.
        stem = page.removesuffix(".md")
        html = "index.html" if stem == "index" else f"{stem}/index.html"
        assert (site / html).is_file(), page


def test_every_factor_and_operations_page_exists():
    docs = REPO_ROOT / "docs"
    assert len(list((docs / "factors").glob("[01][0-9]-*.md"))) == 12
    for page in ("serving", "drift", "production"):
        assert (docs / "operations" / f"{page}.md").is_file(), page


def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "platform").symlink_to(REPO_ROOT / "platform")  # the API reference's sources
    page = tmp_path / "docs" / "getting-started.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    completed = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert completed.returncode != 0
    assert "no-such-page.md" in completed.stderr


# ------------------------------------------------------------------------ paths the docs name
TOP_FOLDERS = (
    "platform/",
    "projects/",
    "tests/",
    "bentos/",
    "feature_repo/",
    "infra/",
    "docs/",
    "bench/",
    ".github/",
)
PATH_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".toml", ".sql")
FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def named_paths(markdown: str) -> set[str]:
    """Repository paths a page names in inline code (`platform/src/twelve/proof/rules.py`).

    A token counts when it starts with a top-level folder of the repository, contains a `/`, ends
    with a file suffix and holds no placeholder (`<`, `*`, `{`) or space. Fenced blocks are
    commands, not inline code: they are left out.
    """
    tokens = INLINE_CODE.findall(FENCED.sub("", markdown))
    return {
        token
        for token in tokens
        if "/" in token
        and token.endswith(PATH_SUFFIXES)
        and token.startswith(TOP_FOLDERS)
        and not any(character in token for character in "<*{ ")
    }


def test_every_repository_path_the_docs_name_exists():
    """A page naming a file that was moved or renamed fails, naming the page and the path."""
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    missing = [
        f"{page.relative_to(REPO_ROOT)}: {path}"
        for page in pages
        for path in sorted(named_paths(page.read_text(encoding="utf-8")))
        if not (REPO_ROOT / path).exists()
    ]
    assert len(pages) > 12
    assert missing == [], "paths named in the docs that do not exist:\n" + "\n".join(missing)


# ------------------------------------------------------------------------------ read offline
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //
CSS_REFERENCE = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")]+)""")


class AssetReferences(HTMLParser):
    """What a page makes the browser load: scripts, stylesheets, fonts, icons, images, frames."""

    LOADED = {
        ("script", "src"),
        ("img", "src"),
        ("img", "srcset"),
        ("source", "src"),
        ("source", "srcset"),
        ("iframe", "src"),
        ("embed", "src"),
        ("object", "data"),
        ("video", "src"),
        ("audio", "src"),
    }

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self._in_style = tag == "style"
        for name, value in attributes.items():
            if value is None:
                continue
            if (tag, name) in self.LOADED:
                self.references += [part.split()[0] for part in value.split(",") if part.strip()]
            # Every <link> (stylesheet, preload, preconnect, icon, manifest) but a canonical
            # address, which names the page and loads nothing.
            if tag == "link" and name == "href" and attributes.get("rel") != "canonical":
                self.references.append(value)
            if name == "style":
                self.references += css_references(value)

    def handle_endtag(self, tag):
        self._in_style = self._in_style and tag != "style"

    def handle_data(self, data):
        if self._in_style:
            self.references += css_references(data)


def css_references(css: str) -> list[str]:
    return [first or second for first, second in CSS_REFERENCE.findall(css)]


def external_references(site: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            parser = AssetReferences()
            parser.feed(path.read_text(encoding="utf-8"))
            references = parser.references
        elif path.suffix == ".css":
            references = css_references(path.read_text(encoding="utf-8"))
        else:
            continue
        if external := sorted({ref for ref in references if EXTERNAL.match(ref)}):
            found[path.relative_to(site).as_posix()] = external
    return found


def test_the_site_loads_nothing_from_another_host(site):
    """Scripts, stylesheets, fonts, images: all inside the site (the docs are read offline)."""
    assert list(site.rglob("*.css"))
    assert list(site.rglob("*.js"))
    assert external_references(site) == {}
    assert (site / "search" / "search_index.json").is_file()  # the built-in search, local


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">', True),
        ('<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>', True),
        ('<script src="//cdn.example.org/x.js"></script>', True),
        ("<style>@import 'https://example.org/a.css';</style>", True),
        ('<div style="background: url(https://example.org/a.png)"></div>', True),
        ('<link rel="canonical" href="https://example.org/page/">', False),
        ('<script src="../assets/javascripts/bundle.js"></script>', False),
        ('<a href="https://example.org">a link is not loaded</a>', False),
    ],
)
def test_the_external_reference_check_tells_loaded_assets_from_links(tmp_path, markup, expected):
    (tmp_path / "index.html").write_text(f"<html><head></head><body>{markup}</body></html>")
    assert bool(external_references(tmp_path)) is expected


# ---------------------------------------------------------------------------- API reference
def public_modules() -> dict[str, Path]:
    """Dotted name -> source of every module the reference documents (as gen_ref_pages.py)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        names = [*relative.parent.parts, relative.stem]
        if "template" in relative.parts[:-1] or any(
            name.startswith("_") and name != "__init__" for name in names
        ):
            continue
        parts = ["twelve", *relative.with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def page_of(site: Path, module: str) -> Path:
    return site / "reference" / Path(*module.split(".")) / "index.html"


def page_text(page: Path) -> str:
    """The page's text without markup or any white space (tags split words unpredictably)."""
    return "".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))).split())


def test_every_public_module_of_twelve_has_a_reference_page(site):
    modules = public_modules()
    assert {"twelve", "twelve.cli.main", "twelve.monitoring.drift", "twelve.cli.commands"} <= set(
        modules
    )
    assert not any(".template" in module for module in modules)
    missing = [module for module in modules if not page_of(site, module).is_file()]
    assert missing == []
    assert not (site / "reference" / "twelve" / "scaffold" / "template").exists()
    assert not (site / "reference" / "SUMMARY").exists()  # the nav source is not a page
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="reference/twelve/monitoring/drift/"' in home  # in the navigation


def test_the_drift_reference_page_shows_the_docstrings(site):
    """Every documented public function and class of the drift module, with its summary line."""
    (module,) = [name for name in public_modules() if name.rsplit(".", 1)[-1] == "drift"]
    tree = ast.parse(public_modules()[module].read_text())
    documented = {
        node.name: ast.get_docstring(node).splitlines()[0]
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
        and ast.get_docstring(node)
    }
    assert "compare_profiles" in documented
    page = page_of(site, module)
    markup, text = page.read_text(encoding="utf-8"), page_text(page)
    for name, summary in documented.items():
        assert f'id="{module}.{name}"' in markup, name  # its own heading (an anchor to link to)
        assert "".join(summary.replace("`", "").split()) in text, name
