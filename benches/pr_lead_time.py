#!/usr/bin/env python3
"""The baseline of benches/pr_lead_time.rs: what a team pastes into a deploy
job to get lead times of squash-merged pull requests. `git log` of the
range for the `(#N)` subjects, one GitHub request per pull request for its
commits, each commit's lead time from its author date. No store, no cache:
every run asks again. Prints how many lead times it computed.

    pr_lead_time.py API REPO TOKEN BASE HEAD FINISHED_AT
"""
import json
import re
import subprocess
import sys
import urllib.request
from datetime import datetime

api, repo, token, base, head, finished = sys.argv[1:7]
finished_at = datetime.fromisoformat(finished.replace("Z", "+00:00"))
log = subprocess.run(
    ["git", "log", "--no-merges", "--format=%H %s", f"{base}..{head}"],
    check=True,
    capture_output=True,
    text=True,
).stdout
lead_times = []
for line in log.splitlines():
    sha, subject = line.split(" ", 1)
    m = re.search(r"\(#(\d+)\)$", subject)
    if not m:
        continue
    req = urllib.request.Request(
        f"{api.rstrip('/')}/repos/{repo}/pulls/{m.group(1)}/commits?per_page=100",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    with urllib.request.urlopen(req) as r:
        for c in json.load(r):
            authored = datetime.fromisoformat(c["commit"]["author"]["date"].replace("Z", "+00:00"))
            lead_times.append(max(0, (finished_at - authored).total_seconds()))
print(len(lead_times))
