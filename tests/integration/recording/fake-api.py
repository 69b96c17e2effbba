#!/usr/bin/env python3
"""fake-api.py - a stand-in for gatehoused's session and recording API
(docs/PROTOCOL.md, "Sessions and recordings"), for testing gatehousectl's
verbs before and apart from the real server. Plain HTTP on 127.0.0.1
(gatehousectl allows http to loopback only).

    fake-api.py DIR TOKEN

Serves the recordings DIR/*.cast as described in DIR/index.json
({"ID": {"file": NAME, ...index fields...}}), writes its port to
DIR/port and every request ("METHOD PATH BODY") to DIR/requests.log.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR, TOKEN = sys.argv[1], sys.argv[2]

SESSION = {"id": 3, "user": "alice", "target": "web1", "port": 22,
           "protocol": "ssh", "kind": "browser", "grant_id": 9,
           "source": "127.0.0.1", "started": 1700000000000, "ended": None,
           "end_reason": None, "bytes_in": 10, "bytes_out": 2000,
           "recording_id": 5}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write(f"{method} {self.path} {body}\n")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.send_json(401, {"error": "unauthenticated",
                                        "message": "no token"})
        path, _, _ = self.path.partition("?")
        parts = path.strip("/").split("/")
        with open(os.path.join(DIR, "index.json")) as f:
            index = json.load(f)
        if method == "GET" and path == "/api/v1/sessions":
            return self.send_json(200, {"items": [SESSION], "next_after": 0})
        if method == "POST" and parts[:3] == ["api", "v1", "sessions"] \
                and len(parts) == 5 and parts[4] == "kill":
            if parts[3] == "3":
                return self.send_json(200, dict(SESSION, end_reason="admin_kill"))
            return self.send_json(409, {"error": "not_live",
                                        "message": "the session has ended"})
        if method == "GET" and path == "/api/v1/recordings":
            items = [dict((k, v) for k, v in r.items() if k[0] != "_")
                     for r in index.values()]
            return self.send_json(200, {"items": items, "next_after": 0})
        if method == "GET" and parts[:3] == ["api", "v1", "recordings"] \
                and len(parts) >= 4 and parts[3] in index:
            rec = index[parts[3]]
            if len(parts) == 4:
                return self.send_json(200, dict((k, v) for k, v in rec.items()
                                                if k[0] != "_"))
            if len(parts) == 5 and parts[4] == "cast":
                if rec.get("_refuse"):
                    return self.send_json(403, {"error": "\x1b[31mforbidden",
                                                "message": "not yours"})
                fn = os.path.join(DIR, rec["_file"])
                self.send_response(200)
                self.send_header("Content-Type", "application/x-asciicast")
                self.send_header("Content-Length", str(os.path.getsize(fn)))
                self.end_headers()
                with open(fn, "rb") as f:
                    while True:
                        chunk = f.read(65536)
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                return None
        return self.send_json(404, {"error": "not_found",
                                    "message": "no such recording"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
