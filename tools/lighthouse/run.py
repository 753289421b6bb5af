"""``make lighthouse``: Lighthouse (mobile) on the resident's home, offers and an action's page.

Starts the app as production runs it (gunicorn, ``APP_ENV=production``) on SQLite in a
temporary directory with the demo data, signs in as the demo resident, and runs the pinned
Lighthouse from ``tools/lighthouse/node_modules`` with Debian's Chromium and the session cookie
(the pages need a login). Prints a table, writes ``loadtests/results/lighthouse-<date>.json``
and ``.md``, and exits 1 when a page misses a threshold:

* performance >= 90 and accessibility >= 95 on every page;
* the home page's first load (Lighthouse's total-byte-weight) under 100 KB transferred.

Environment: ``CHROME_PATH`` (default /usr/bin/chromium), ``LIGHTHOUSE_PORT`` (default 18040,
below the ephemeral range), ``LIGHTHOUSE_RUNS`` (runs per page, default 1; the median is kept).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "loadtests" / "results"
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
PORT = int(os.environ.get("LIGHTHOUSE_PORT", "18040"))
RUNS = max(1, int(os.environ.get("LIGHTHOUSE_RUNS", "1")))
ATTEMPTS = 3  # per run, when Chromium loses the trace
RESIDENT = ("13800000001", "quzhou-demo-2026")  # the demo resident (flask demo load)
CHROME_FLAGS = " ".join(
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
)
MIN_PERFORMANCE = 90
MIN_ACCESSIBILITY = 95
MAX_HOME_BYTES = 100 * 1024


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),  # throwaway: this database dies with the run
            "SESSION_COOKIE_SECURE": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'lighthouse.db'}",
            "UPLOAD_DIR": str(workdir / "uploads"),
            "FLASK_APP": "backend.app:create_app",
            "GUNICORN_BIND": f"127.0.0.1:{PORT}",
            "WEB_CONCURRENCY": "2",
        }
    )
    return env


def _prepare(env: dict[str, str]) -> None:
    flask = str(BIN / "flask")
    for args in (["db", "upgrade"], ["demo", "load", "--allow-production"]):
        subprocess.run(
            [flask, *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _wait(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the app did not answer on {base} within 30 s")


def _sign_in(base: str) -> tuple[str, str]:
    """The resident's session cookie and the path of one of their actions."""
    http = requests.Session()
    page = http.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    phone, password = RESIDENT
    data = {"phone": phone, "password": password, "csrf_token": token.group(1) if token else ""}
    response = http.post(base + "/login", data=data, timeout=10)
    if not response.url.endswith("/home"):
        raise SystemExit(f"signing in as the demo resident failed (ended at {response.url})")
    actions = http.get(base + "/actions", timeout=10).text
    found = re.search(r'href="(/actions/\d+)"', actions)
    if not found:
        raise SystemExit("the demo resident has no action to measure")
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return cookie, found.group(1)


def _lighthouse(url: str, cookie: str, out: Path) -> dict[str, Any]:
    cmd = [
        str(LIGHTHOUSE),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        "--only-categories=performance,accessibility,best-practices",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--extra-headers={json.dumps({'Cookie': cookie})}",
    ]
    env = {**os.environ, "CHROME_PATH": CHROME}
    # Chromium now and then loses the trace of a load (NO_NAVSTART, a cold first start):
    # that run measured nothing, so it is run again, at most ATTEMPTS times in all.
    for attempt in range(1, ATTEMPTS + 1):
        out.unlink(missing_ok=True)
        done = subprocess.run(cmd, env=env, timeout=180)
        report = json.loads(out.read_text()) if out.exists() else {}
        error = report.get("runtimeError") if report else f"exit status {done.returncode}"
        if not error and done.returncode == 0:
            break
        print(
            f"  {url}: Lighthouse run failed ({error}), attempt {attempt} of {ATTEMPTS}", flush=True
        )
    else:
        raise SystemExit(f"Lighthouse failed on {url} {ATTEMPTS} times: {error}")
    if report.get("finalDisplayedUrl") != url:  # e.g. sent to /login: the cookie did not work
        raise SystemExit(f"Lighthouse measured {report.get('finalDisplayedUrl')}, not {url}")
    return report


def _summary(path: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    def score(report: dict[str, Any], category: str) -> int:
        return round(100 * (report["categories"][category]["score"] or 0))

    perf = [score(r, "performance") for r in reports]
    # the median run by performance stands for the page (Lighthouse's own advice)
    report = reports[perf.index(sorted(perf)[(len(perf) - 1) // 2])]
    audits = report["audits"]
    failing_a11y = sorted(
        key
        for key, audit in audits.items()
        if audit.get("score") is not None
        and audit["score"] < 1
        and key in {ref["id"] for ref in report["categories"]["accessibility"]["auditRefs"]}
    )
    return {
        "page": path,
        "performance": score(report, "performance"),
        "performance_runs": perf,
        "accessibility": score(report, "accessibility"),
        "best_practices": score(report, "best-practices"),
        "transfer_bytes": int(audits["total-byte-weight"]["numericValue"]),
        "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
        "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
        "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
        "cls": round(audits["cumulative-layout-shift"]["numericValue"], 3),
        "failing_accessibility_audits": failing_a11y,
    }


def _problems(rows: list[dict[str, Any]]) -> list[str]:
    problems = []
    for row in rows:
        if row["performance"] < MIN_PERFORMANCE:
            problems.append(f"{row['page']}: performance {row['performance']} < {MIN_PERFORMANCE}")
        if row["accessibility"] < MIN_ACCESSIBILITY:
            failing = ", ".join(row["failing_accessibility_audits"])
            problems.append(
                f"{row['page']}: accessibility {row['accessibility']} < "
                f"{MIN_ACCESSIBILITY} ({failing})"
            )
    home = rows[0]
    if home["transfer_bytes"] >= MAX_HOME_BYTES:
        problems.append(f"/home: {home['transfer_bytes']} bytes transferred >= {MAX_HOME_BYTES}")
    return problems


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| page | performance | accessibility | best practices | transferred "
        "| FCP | LCP | TBT | CLS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['page']} | {r['performance']} | {r['accessibility']} | {r['best_practices']} "
            f"| {r['transfer_bytes'] / 1024:.1f} KB | {r['fcp_ms'] / 1000:.1f} s "
            f"| {r['lcp_ms'] / 1000:.1f} s | {r['tbt_ms']} ms | {r['cls']} |"
        )
    return "\n".join(lines)


def _lighthouse_version() -> str:
    package = HERE / "node_modules" / "lighthouse" / "package.json"
    return str(json.loads(package.read_text())["version"])


def main() -> int:
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} is missing: run `npm ci` in {HERE} (make lighthouse does)")
    if not Path(CHROME).exists():
        raise SystemExit(f"Chromium not found at {CHROME} (apt-get install chromium)")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            raise SystemExit(f"port {PORT} is taken; set LIGHTHOUSE_PORT")
    base = f"http://127.0.0.1:{PORT}"
    workdir = Path(tempfile.mkdtemp(prefix="lighthouse-"))
    server = None
    try:
        env = _env(workdir)
        _prepare(env)
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "backend.wsgi:app"],
            cwd=ROOT,
            env=env,
            stderr=(workdir / "gunicorn.log").open("wb"),
        )
        _wait(base, server)
        cookie, action = _sign_in(base)
        rows = []
        for path in ("/home", "/offers", action):
            reports = [
                _lighthouse(base + path, cookie, workdir / f"report-{len(rows)}-{run}.json")
                for run in range(RUNS)
            ]
            rows.append(_summary(path, reports))
            print(f"  {path}: done", flush=True)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    table = _table(rows)
    problems = _problems(rows)
    today = dt.date.today().isoformat()
    summary = {
        "date": today,
        "lighthouse": _lighthouse_version(),
        "chromium": subprocess.run(
            [CHROME, "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "form_factor": "mobile (Lighthouse default: Moto G Power, simulated slow 4G)",
        "thresholds": {
            "performance": MIN_PERFORMANCE,
            "accessibility": MIN_ACCESSIBILITY,
            "home_transfer_bytes_below": MAX_HOME_BYTES,
        },
        "pages": rows,
        "passed": not problems,
        "problems": problems,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"lighthouse-{today}.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / f"lighthouse-{today}.md").write_text(
        f"Lighthouse {summary['lighthouse']} (mobile), {summary['chromium']}, {today}\n\n{table}\n"
    )
    print(table)
    print(f"written: loadtests/results/lighthouse-{today}.json and .md")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
