"""Poll the app's health URL on the node until it answers 200 with the expected release,
every 0.2 s, for at most TIMEOUT seconds in total. Prints the last answer as one JSON line
and exits 0 when healthy, 1 when not. Role app runs it with `python3 -c` (no file on the node).

Arguments: URL RELEASE_KEY RELEASE TIMEOUT (RELEASE_KEY empty: any 200 is healthy).
"""

import json
import sys
import time
import urllib.error
import urllib.request

url, key, release, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + timeout
last = {"status": None, "body": "no answer yet"}
while True:
    try:
        with urllib.request.urlopen(url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))) as answer:
            body = answer.read(4096).decode("utf-8", "replace")
            last = {"status": answer.status, "body": body}
            if not key or json.loads(body).get(key) == release:
                print(json.dumps(last))
                sys.exit(0)
    except urllib.error.HTTPError as exc:
        last = {"status": exc.code, "body": exc.read(512).decode("utf-8", "replace")}
    except (OSError, ValueError) as exc:
        last = {"status": None, "body": str(exc)}
    if time.monotonic() + 0.2 >= deadline:
        print(json.dumps(last))
        sys.exit(1)
    time.sleep(0.2)
