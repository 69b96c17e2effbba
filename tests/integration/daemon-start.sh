#!/usr/bin/env bash
# gatehoused with no configuration at all, in an empty directory: it must
# create its database and certificate, serve /healthz, /metrics and the
# index page on https://127.0.0.1:8443/, survive plain HTTP and garbage on
# its TLS port, stop on SIGTERM with status 0 within 2 s, and reuse the
# database and certificate on the next start.
#
# The literal default port is used inside a private network namespace, so
# this cannot collide with anything else listening on 8443.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "not ok - needs root for a private network namespace (port 8443 unshared)"
  gh_finish
fi
gh_netns_new || { not_ok "create network namespace"; gh_finish; }
ns=$GH_NS
GH_EXEC_PREFIX="ip netns exec $ns"
GH_CURL_PREFIX="ip netns exec $ns"
dir="$GH_TMP/empty"

check "first start with no arguments becomes ready" gh_start "$dir"
check_eq "listens on the default port" 8443 "$GH_PORT"
check_eq "prints the URL" "https://127.0.0.1:8443/" "$GH_URL"
check "data directory created with mode 0700" \
  test "$(stat -c %a "$dir/gatehouse-data")" = 700
check "database created" test -s "$dir/gatehouse-data/gatehouse.db"
check "certificate created" test -s "$dir/gatehouse-data/tls/cert.pem"
check_eq "private key mode 0600" 600 "$(stat -c %a "$dir/gatehouse-data/tls/key.pem")"
check "ready line names the certificate's SHA-256 fingerprint" \
  grep -Eq 'cert_sha256=([0-9A-F]{2}:){31}[0-9A-F]{2} ' "$GH_LOG"
fp_log=$(sed -n 's/.*cert_sha256=\([^ ]*\) .*/\1/p' "$GH_LOG")
fp_real=$(openssl x509 -in "$dir/gatehouse-data/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
check_eq "logged fingerprint matches the certificate" "$fp_real" "$fp_log"

# The literal acceptance command.
out=$(ip netns exec "$ns" curl -sk -w '\n%{http_code} %{content_type}' https://127.0.0.1:8443/healthz)
check_eq "curl -k https://127.0.0.1:8443/healthz answers 200 JSON" \
  "200 application/json" "$(tail -n1 <<<"$out")"
body=$(head -n1 <<<"$out")
check "healthz body has status ok, version and uptime" python3 -c '
import json, sys
b = json.loads(sys.argv[1])
assert b["status"] == "ok", b
assert isinstance(b["version"], str) and b["version"], b
assert isinstance(b["uptime_seconds"], int) and b["uptime_seconds"] >= 0, b
' "$body"

metrics=$(gh_curl /metrics -w '\n%{http_code} %{content_type}')
check_eq "/metrics answers 200 in Prometheus text format" \
  "200 text/plain; version=0.0.4" "$(tail -n1 <<<"$metrics")"
check "/metrics parses as Prometheus text and has the required series" python3 -c '
import re, sys
text = sys.argv[1].rsplit("\n", 1)[0]
sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\})? [-+0-9.eE]+$")
names = set()
for line in text.splitlines():
    if line.startswith("# TYPE "):
        names.add(line.split()[2]); continue
    if line.startswith("#"): continue
    assert sample.match(line), "bad line: %r" % line
    assert re.split(r"[{ ]", line)[0] in names, "no TYPE for %r" % line
for need in ("process_start_time_seconds", "gatehouse_open_connections", "gatehouse_http_requests_total"):
    assert need in names, need
assert re.search(r"^gatehouse_http_requests_total\{code=\"200\"\} [1-9]", text, re.M), "healthz 200 not counted"
' "$metrics"

index=$(gh_curl / -w '\n%{http_code}')
check_eq "index page answers 200" 200 "$(tail -n1 <<<"$index")"
check "index page says Gatehouse" grep -q "<title>Gatehouse</title>" <<<"$index"

# Plain HTTP and garbage on the TLS port: refused, and nothing breaks.
code=$(ip netns exec "$ns" curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:8443/healthz)
check "plain HTTP to the TLS port gets no page" test "$code" != 200
ip netns exec "$ns" bash -c 'head -c 65536 /dev/urandom >/dev/tcp/127.0.0.1/8443' 2>/dev/null
ip netns exec "$ns" bash -c 'printf "\x16\x03\x01\xff\xff" >/dev/tcp/127.0.0.1/8443' 2>/dev/null
check "still alive after plain HTTP and garbage" kill -0 "$GH_PID"
check_eq "still serves after plain HTTP and garbage" 200 \
  "$(gh_curl /healthz -o /dev/null -w '%{http_code}')"

gh_stop TERM
check_eq "SIGTERM: exit status 0" 0 "$GH_EXIT"
check "SIGTERM: stopped within 2 s (took ${GH_STOP_MS} ms)" test "$GH_STOP_MS" -lt 2000
check "log says stopped" grep -q 'msg=stopped' "$GH_LOG"

# Second start: same database (no migration), same certificate.
cp "$GH_LOG" "$dir/first.log"
check "second start becomes ready" gh_start "$dir"
fp2=$(sed -n 's/.*cert_sha256=\([^ ]*\) .*/\1/p' "$GH_LOG")
check_eq "second start reuses the certificate" "$fp_log" "$fp2"
check "first start migrated the database" grep -q 'msg="migrated"' "$dir/first.log"
check "second start did not migrate again" bash -c "! grep -q 'msg=\"migrated\"' '$GH_LOG'"
check "second start did not generate a certificate" \
  bash -c "! grep -q 'generated a self-signed' '$GH_LOG'"
gh_stop INT
check_eq "SIGINT: exit status 0" 0 "$GH_EXIT"
starts=$(sqlite3 "$dir/gatehouse-data/gatehouse.db" \
  "SELECT count(*) FROM audit WHERE action = 'gateway.start'")
check_eq "both starts audited in the reused database" 2 "$starts"
gh_finish
