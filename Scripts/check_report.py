#!/usr/bin/env python3
"""Check a Glassbox report page in a real browser (headless Chromium).

    python3 Scripts/check_report.py runs/demo/index.html [--screenshot out.png] [--width 1200]

1. Static check: no <img>/<script>/<link>/<iframe> pointing at http(s):, file: or a relative
   path. The page must be self-contained (every image a data: URI).
2. Load check: a copy of the page, placed alone in a temporary folder (so a stray relative path
   cannot resolve) with a tiny inline script injected, is loaded by `chromium --headless=new
   --dump-dom` with host resolution disabled (no network). On window load the script writes into
   the DOM how many <img> elements loaded with a non-zero natural size, which failed, what
   non-data: resources the page fetched, and the page height. The dumped DOM is parsed for that.
3. Screenshot: the original page at WIDTH x (page height) with `--screenshot`, i.e. a full-page
   PNG; default name: <page>-screenshot.png next to the page.

Prints one line, e.g. "12/12 images loaded; screenshot: runs/demo/index-screenshot.png", and
exits 0; otherwise prints what is wrong and exits 1. Exits 2 if Chromium is missing (with how to
install it) or on bad usage. Python 3 standard library only.
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER_ID = "glassbox-report-check"
MAX_HEIGHT = 16384  # Chromium's largest screenshot side

# Runs on window load (after every image has loaded or failed) and records the result in the DOM.
CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var failed = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0); });
  var external = performance.getEntriesByType("resource").map(function (e) { return e.name; })
    .filter(function (n) { return n.indexOf("data:") !== 0; });
  var out = document.createElement("pre");
  out.id = "%s";
  out.textContent = JSON.stringify({
    images: images.length,
    loaded: images.length - failed.length,
    failed: failed.map(function (i) { return (i.getAttribute("alt") || "") + " <" + (i.getAttribute("src") || "").slice(0, 60) + ">"; }),
    external: external,
    height: Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))
  });
  document.body.appendChild(out);
});
</script>
""" % MARKER_ID


def fail(message, status=1):
    print("check_report: " + message, file=sys.stderr)
    sys.exit(status)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def static_problems(page):
    """References that would need the network or another file."""
    problems = []
    for tag, attr, value in re.findall(r"<(img|script|link|iframe|source|video|audio)\b[^>]*?\b(src|href)\s*=\s*[\"']([^\"']*)[\"']",
                                       page, flags=re.IGNORECASE):
        value = html.unescape(value)
        if not value.lower().startswith("data:"):
            problems.append("<%s %s=\"%s\">" % (tag.lower(), attr.lower(), value[:80]))
    for url in re.findall(r"url\(\s*[\"']?([^\"')]*)", page, flags=re.IGNORECASE):
        if not url.lower().startswith("data:"):
            problems.append("CSS url(%s)" % url[:80])
    return problems


def run_chromium(chromium, profile, arguments, timeout):
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: any host lookup fails
               "--user-data-dir=" + profile] + arguments
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish within %d s (%s)" % (timeout, " ".join(arguments[-2:])))


def main():
    parser = argparse.ArgumentParser(description="Load a report page in headless Chromium: check every image loads, take a full-page screenshot.")
    parser.add_argument("page", help="the report's index.html")
    parser.add_argument("--screenshot", help="PNG to write (default: <page>-screenshot.png next to the page)")
    parser.add_argument("--width", type=int, default=1200, help="window width in CSS pixels (default 1200)")
    parser.add_argument("--min-images", type=int, default=1, help="fail if the page has fewer images (default 1)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per Chromium run (default 120)")
    args = parser.parse_args()

    page_path = os.path.abspath(args.page)
    if not os.path.isfile(page_path):
        fail("%s: no such file" % args.page, 2)
    chromium = find_chromium()
    if chromium is None:
        fail("chromium not found; install it with: apt-get install -y chromium", 2)
    screenshot = os.path.abspath(args.screenshot or os.path.splitext(page_path)[0] + "-screenshot.png")

    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    problems = static_problems(page)
    if problems:
        fail("%s is not self-contained: %d reference(s) outside the page, e.g. %s"
             % (args.page, len(problems), "; ".join(problems[:3])))

    with tempfile.TemporaryDirectory(prefix="check_report.") as work:
        # The copy with the check script, alone in an empty folder.
        probe = os.path.join(work, "page.html")
        at = page.lower().rfind("</body>")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(page[:at] + CHECK_SCRIPT + page[at:] if at >= 0 else page + CHECK_SCRIPT)
        result = run_chromium(chromium, os.path.join(work, "profile-dom"),
                              ["--window-size=%d,900" % args.width, "--virtual-time-budget=10000",
                               "--dump-dom", "file://" + probe], args.timeout)
        dom = result.stdout.decode("utf-8", "replace")
        found = re.search(r'<pre id="%s">(.*?)</pre>' % MARKER_ID, dom, flags=re.DOTALL)
        if result.returncode != 0 or not found:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            fail("chromium did not report on the page (exit status %d)%s"
                 % (result.returncode, (": " + " | ".join(detail)) if detail else ""))
        report = json.loads(html.unescape(found.group(1)))

        # The full-page screenshot, of the original page.
        height = max(1, min(int(report["height"]), MAX_HEIGHT))
        os.makedirs(os.path.dirname(screenshot), exist_ok=True)
        if os.path.exists(screenshot):
            os.remove(screenshot)
        shot = run_chromium(chromium, os.path.join(work, "profile-shot"),
                            ["--window-size=%d,%d" % (args.width, height), "--virtual-time-budget=10000",
                             "--screenshot=" + screenshot, "file://" + page_path], args.timeout)
        if shot.returncode != 0 or not os.path.isfile(screenshot) or os.path.getsize(screenshot) == 0:
            detail = shot.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            fail("chromium wrote no screenshot to %s (exit status %d): %s" % (screenshot, shot.returncode, " | ".join(detail)))

    summary = "%d/%d images loaded; screenshot: %s" % (report["loaded"], report["images"], os.path.relpath(screenshot))
    if report["failed"]:
        fail("%s; failed: %s" % (summary, "; ".join(report["failed"][:5])))
    if report["external"]:
        fail("%s; the page fetched outside itself: %s" % (summary, "; ".join(report["external"][:5])))
    if report["images"] < args.min_images:
        fail("%s; expected at least %d image(s)" % (summary, args.min_images))
    if int(report["height"]) > MAX_HEIGHT:
        summary += " (cut at %d of %d px)" % (MAX_HEIGHT, report["height"])
    print(summary)


if __name__ == "__main__":
    main()
