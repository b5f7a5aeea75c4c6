"""Render leaderboard/README.md to HTML (GitHub-like tables, images, <audio> players) and screenshot it
with headless Chromium, to look at the board as a reader would before committing it.

    python scripts/preview_leaderboard.py [--board leaderboard/README.md] [--png leaderboard-preview.png]

Needs the dev extra `markdown` and a Chromium binary (Debian: apt-get install chromium). The HTML is
written beside the board (so relative links to plots/ and samples/ resolve) and removed afterwards."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import markdown

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1180px;
       margin: 24px auto; color: #1f2328; font-size: 14px; line-height: 1.5; }
table { border-collapse: collapse; margin: 12px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
tr:nth-child(2n) { background: #f6f8fa; }
img { max-width: 100%; }
code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; }
h2 { border-bottom: 1px solid #d1d9e0; }
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", type=Path, default=Path("leaderboard/README.md"))
    parser.add_argument("--png", type=Path, default=Path("leaderboard-preview.png"))
    parser.add_argument("--height", type=int, default=4000, help="Screenshot height in pixels.")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium found; install it (Debian: apt-get install chromium)")
    body = markdown.markdown(args.board.read_text(encoding="utf-8"), extensions=["tables", "fenced_code"])
    html = args.board.with_name(".preview.html")
    html.write_text(f"<!doctype html><meta charset='utf-8'><style>{STYLE}</style>{body}", encoding="utf-8")
    try:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size=1280,{args.height}",
                f"--screenshot={args.png.resolve()}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        html.unlink(missing_ok=True)
    print(f"{args.png}: screenshot of {args.board}")


if __name__ == "__main__":
    main()
