#!/usr/bin/env python3
"""The baseline of benches/incident_import.rs: what a team pastes into a
scheduled job to copy PagerDuty incidents into SQLite. Pages of 100 by
offset over one window, one INSERT OR REPLACE per incident, no cursor.
Prints how many incidents it stored.

    pagerduty_import.py API TOKEN SINCE UNTIL DB
"""
import json
import sqlite3
import sys
import urllib.parse
import urllib.request

api, token, since, until, db = sys.argv[1:6]
conn = sqlite3.connect(db)
conn.execute(
    "CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, service TEXT, created_at TEXT,"
    " resolved_at TEXT, severity TEXT, title TEXT)"
)
offset = 0
while True:
    q = urllib.parse.urlencode(
        {"since": since, "until": until, "limit": 100, "offset": offset, "sort_by": "created_at:asc", "time_zone": "UTC"}
    )
    req = urllib.request.Request(
        f"{api.rstrip('/')}/incidents?{q}",
        headers={"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"},
    )
    with urllib.request.urlopen(req) as r:
        page = json.load(r)
    for i in page["incidents"]:
        conn.execute(
            "INSERT OR REPLACE INTO incidents VALUES (?, ?, ?, ?, ?, ?)",
            (
                "pagerduty:" + i["id"],
                i["service"]["summary"],
                i["created_at"],
                i.get("resolved_at") or i.get("last_status_change_at"),
                (i.get("priority") or {}).get("summary") or i.get("urgency"),
                i.get("title"),
            ),
        )
    conn.commit()
    if not page.get("more"):
        break
    offset += len(page["incidents"])
print(conn.execute("SELECT count(*) FROM incidents").fetchone()[0])
