"""The docs site builds strictly: a broken link, a missing anchor or a page left out fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from twelve.paths import REPO_ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def test_the_docs_build_strictly_with_every_page(tmp_path):
    completed = build(REPO_ROOT / "mkdocs.yml", tmp_path / "site")
    assert completed.returncode == 0, completed.stderr
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())
    docs = REPO_ROOT / "docs"
    on_disk = {path.relative_to(docs).as_posix() for path in docs.rglob("*.md")}
    assert set(nav_pages(config["nav"])) == on_disk
    for page in on_disk:
        # mkdocs' directory URLs: factors/05-testing.md -> factors/05-testing/index.html.
        stem = page.removesuffix(".md")
        html = "index.html" if stem == "index" else f"{stem}/index.html"
        assert (tmp_path / "site" / html).is_file(), page


def test_every_factor_and_operations_page_exists():
    docs = REPO_ROOT / "docs"
    assert len(list((docs / "factors").glob("[01][0-9]-*.md"))) == 12
    for page in ("serving", "drift", "production"):
        assert (docs / "operations" / f"{page}.md").is_file(), page


def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "getting-started.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    completed = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert completed.returncode != 0
    assert "no-such-page.md" in completed.stderr
