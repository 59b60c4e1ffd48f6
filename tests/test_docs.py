"""Every relative link and image in the README, docs/ and the notebook sources points at a file that exists
(a figure moved or never committed shows as a broken image to every reader)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "notebooks" / "src").glob("*.py"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def relative_targets(page: Path) -> list[str]:
    targets = [t.split("#")[0] for t in LINK.findall(page.read_text())]
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]  # not http:, https:, mailto:


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    # a notebook is opened from notebooks/, so its links are relative to that folder, not to src/
    base = ROOT / "notebooks" if page.suffix == ".py" else page.parent
    missing = [t for t in relative_targets(page) if not (base / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_link_pattern_finds_images_and_skips_web_addresses(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("![a](figures/a.png) [b](b.md#part) [c](https://x.org/c.png)")
    assert relative_targets(page) == ["figures/a.png", "b.md"]
