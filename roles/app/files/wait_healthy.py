"""Poll the app's health URL on the node until it answers 200 with the expected release,
every 0.2 s, for at most TIMEOUT seconds in total. Prints the last answer as one JSON line
and exits 0 when healthy, 1 when not. Role app runs it with `python3 -c` (no file on the node).

Arguments: URL RELEASE_KEY RELEASE TIMEOUT [CA CERT KEY NAME] (RELEASE_KEY empty: any 200 is
healthy). With the four last ones (app_tls), the probe presents CERT and KEY, and the app's
certificate must chain to CA and name NAME (the node's name; the URL holds its address).
"""

import http.client
import json
import ssl
import sys
import time
import urllib.error
import urllib.request

url, key, release, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
handlers = []
if len(sys.argv) > 8:
    ca, cert, private_key, name = sys.argv[5:9]
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, private_key)

    class _Connection(http.client.HTTPSConnection):
        """Connects to the URL's address and checks the certificate for the node's name."""

        def connect(self) -> None:
            http.client.HTTPConnection.connect(self)
            self.sock = context.wrap_socket(self.sock, server_hostname=name)

    class _Handler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(_Connection, req)

    handlers.append(_Handler())
opener = urllib.request.build_opener(*handlers)

deadline = time.monotonic() + timeout
last = {"status": None, "body": "no answer yet"}
while True:
    try:
        with opener.open(url, timeout=min(3.0, max(1.0, deadline - time.monotonic()))) as answer:
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
