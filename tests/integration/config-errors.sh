#!/usr/bin/env bash
# Bad configuration never starts a gateway: each mistake gives exactly one
# clear line naming the file, the line and the key, and exit status 2.
# Also the command-line surface: -t, -T, --help, --version, bad options.
. "$(dirname "$0")/lib.sh"

d="$GH_TMP"
mkdir -p "$d/data"

# expect_error "what" "expected substring" gatehoused-args...
expect_error() {
  local what=$1 want=$2 out rc lines
  shift 2
  out=$(${RUN_AS:-} "$GATEHOUSED" "$@" 2>&1 >/dev/null)
  rc=$?
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
    ok "$what: exit 2, one line: $out"
  else
    not_ok "$what: want exit 2 and one line containing '$want'; got exit $rc, $lines lines: $out"
  fi
}

c=$(gh_conf "$d/unknown.conf" "[server]" "port = 9443" "colour = blue")
expect_error "unknown key" "$c:3: server.colour: unknown key" -c "$c"

c=$(gh_conf "$d/unknown-section.conf" "[serverr]" "port = 9443")
expect_error "unknown section" "$c:2: serverr.port: unknown key" -c "$c"

c=$(gh_conf "$d/port.conf" "# a comment" "" "[server]" "port = 70000")
expect_error "port out of range" "$c:4: server.port: \"70000\" is not a whole number from 0 to 65535" -c "$c"

c=$(gh_conf "$d/port2.conf" "[server]" "port = 84x3")
expect_error "port not a number" "$c:2: server.port:" -c "$c"

c=$(gh_conf "$d/addr.conf" "[server]" "listen_address = localhost")
expect_error "listen address not numeric" "$c:2: server.listen_address:" -c "$c"

c=$(gh_conf "$d/dup.conf" "[server]" "port = 1" "port = 2")
expect_error "key set twice" "$c:3: server.port: set twice (first on line 2)" -c "$c"

c=$(gh_conf "$d/syntax.conf" "[server]" "this is not ini")
expect_error "syntax error" "$c:2: syntax error" -c "$c"

c=$(gh_conf "$d/level.conf" "[log]" "level = loud")
expect_error "bad log level" "$c:2: log.level:" -c "$c"

expect_error "missing config file" "$d/nope.conf: cannot open configuration file" -c "$d/nope.conf"

# Certificate problems.
c=$(gh_conf "$d/cert-missing.conf" "[server]" "data_dir = $d/data" "[tls]" \
  "cert_file = $d/no-such-cert.pem" "key_file = $d/no-such-key.pem")
expect_error "certificate file missing" "$c:4: tls.cert_file: cannot read" -c "$c"

echo "not a certificate" >"$d/garbage.pem"
c=$(gh_conf "$d/cert-garbage.conf" "[server]" "data_dir = $d/data" "[tls]" \
  "cert_file = $d/garbage.pem" "key_file = $d/garbage.pem")
expect_error "certificate file not PEM" "$c:4: tls.cert_file:" -c "$c"

c=$(gh_conf "$d/cert-alone.conf" "[server]" "data_dir = $d/data" "[tls]" \
  "cert_file = $d/garbage.pem")
expect_error "certificate without key" "$c:4: tls.cert_file: tls.cert_file and tls.key_file must be set together" -c "$c"

# Unreadable for the user gatehoused runs as (root reads everything, so
# run it as nobody against a root-only file).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 -subj /CN=t 2>/dev/null
chmod 600 "$d/cert.pem" "$d/key.pem"
mkdir -p "$d/nobody-data" && chown 65534:65534 "$d/nobody-data"
c=$(gh_conf "$d/cert-unreadable.conf" "[server]" "data_dir = $d/nobody-data" \
  "[tls]" "cert_file = $d/cert.pem" "key_file = $d/key.pem")
chmod 644 "$c"
if [ "$(id -u)" -eq 0 ]; then
  RUN_AS="setpriv --reuid=65534 --regid=65534 --clear-groups --"
  expect_error "certificate not readable (as nobody)" \
    "$c:4: tls.cert_file: cannot read \"$d/cert.pem\": Permission denied" -c "$c"
  chmod 644 "$d/cert.pem"
  expect_error "key not readable (as nobody)" \
    "$c:5: tls.key_file: cannot read \"$d/key.pem\": Permission denied" -c "$c"

  # Data directory not writable: owned by root, 0755, gatehoused as nobody.
  mkdir -p "$d/root-only" && chmod 755 "$d/root-only"
  c=$(gh_conf "$d/data-ro.conf" "[server]" "port = 9443" "data_dir = $d/root-only/data")
  chmod 644 "$c"
  expect_error "data directory not writable (as nobody)" \
    "$c:3: server.data_dir: data directory \"$d/root-only/data\" cannot be created (parent is not writable)" -c "$c"
  c=$(gh_conf "$d/data-ro2.conf" "[server]" "data_dir = $d/root-only")
  chmod 644 "$c"
  expect_error "existing data directory not writable (as nobody)" \
    "$c:2: server.data_dir: data directory \"$d/root-only\" is not writable" -c "$c"
  RUN_AS=
else
  not_ok "permission cases need root (to run gatehoused as nobody)"
fi

# Data directory under a regular file: fails for root too.
c=$(gh_conf "$d/data-file.conf" "[server]" "data_dir = $d/garbage.pem/data")
expect_error "data directory under a file" "$c:2: server.data_dir:" -c "$c"

# Command-line overrides are checked the same way.
expect_error "bad -o value" "command line: -o server.port:" -o server.port=99999
expect_error "unknown -o key" "command line: -o server.nope: unknown key" -o server.nope=1
expect_error "malformed -o" "expected section.key=value" -o serverport
expect_error "unknown option" "unknown option --frobnicate (try --help)" --frobnicate
expect_error "missing option argument" "option -c needs an argument (try --help)" -c
expect_error "stray argument" "unexpected argument extra (try --help)" extra

# A problem found by -t is the same problem, exit 2.
c=$(gh_conf "$d/t-bad.conf" "[server]" "port = -5")
expect_error "-t reports errors" "$c:2: server.port:" -t -c "$c"

# Targets: [target NAME] sections.
c=$(gh_conf "$d/t-ok.conf" "[target web1]" "address = 198.18.0.2" "ports = 3389, 22" \
  "approvers = web-approvers" "max_duration = 3600" "[target db.prod-1]" \
  "address = db1.internal.example" "ports = 5432" "reason_required = no")
dump=$("$GATEHOUSED" -T -c "$c")
check_eq "-T shows a target with canonical ports" "[target web1]|ports = 22,3389" \
  "$(grep -x -e '\[target web1\]' -e 'ports = 22,3389' <<<"$dump" | paste -sd'|')"
check "-T shows the second target's policy" grep -qx "reason_required = no" <<<"$dump"
c=$(gh_conf "$d/t-key.conf" "[target web1]" "address = 198.18.0.2" "ports = 22" "colour = red")
expect_error "unknown target key" "$c:4: target web1.colour: unknown key" -c "$c"
c=$(gh_conf "$d/t-ports.conf" "[target web1]" "address = 198.18.0.2" "ports = 22, 70000")
expect_error "bad target ports" "$c:3: target web1.ports:" -c "$c"
c=$(gh_conf "$d/t-noaddr.conf" "[target web1]" "ports = 22")
expect_error "target without address" "$c:2: target web1: address and ports are required" -c "$c"
c=$(gh_conf "$d/t-twice.conf" "[target web1]" "address = 198.18.0.2" "ports = 22" \
  "[log]" "level = info" "[target web1]" "address = 198.18.0.3")
expect_error "target defined twice" "$c:7: target web1.address: target web1 is defined twice (first on line 2)" -c "$c"
c=$(gh_conf "$d/t-name.conf" "[target ../etc]" "address = 198.18.0.2")
expect_error "bad target name" "$c:2: target ../etc.address: target name" -c "$c"
c=$(gh_conf "$d/t-dur.conf" "[target web1]" "address = 198.18.0.2" "ports = 22" "max_duration = 90000")
expect_error "target grant longer than the 24 h cap" "$c:4: target web1.max_duration:" -c "$c"
c=$(gh_conf "$d/t-addr.conf" "[target web1]" "address = 198.18.0.2;rm -rf /" "ports = 22")
expect_error "target address with shell characters" "$c:2: target web1.address:" -c "$c"

# Good cases: -t, -T, --help, --version.
c=$(gh_conf "$d/good.conf" "[server]" "port = 9443" "data_dir = $d/data" \
  "[tls]" "cert_file = $d/cert.pem" "key_file = $d/key.pem" "[log]" "level = debug")
out=$("$GATEHOUSED" -t -c "$c" 2>&1)
check_eq "-t on a good file exits 0" 0 $?
check "-t says the file is valid" grep -q "configuration $c is valid" <<<"$out"
check "-t did not create the data directory's database" test ! -e "$d/data/gatehouse.db"
dump=$("$GATEHOUSED" -T -c "$c" -o log.level=warn)
check_eq "-T exits 0" 0 $?
check "-T shows the file's value" grep -qx "port = 9443" <<<"$dump"
check "-T shows the override winning over the file" grep -qx "level = warn" <<<"$dump"
check "-T shows defaults for unset keys" grep -qx "hsts_max_age = 31536000" <<<"$dump"
check "-T prints sections" grep -qx "\[tls\]" <<<"$dump"
dump=$("$GATEHOUSED" -T -o oidc.client_secret=s3cr3t-value)
check "-T masks the client secret" grep -qx "client_secret = \*\*\*\*\*\*\*\*" <<<"$dump"
check "-T never prints the secret" bash -c "! grep -q s3cr3t <<<\"\$1\"" _ "$dump"
echo "file-secret" >"$d/secret"
c=$(gh_conf "$d/two-secrets.conf" "[oidc]" "client_secret = x" "client_secret_file = $d/secret")
expect_error "client secret given twice" "$c:3: oidc.client_secret_file: set oidc.client_secret or oidc.client_secret_file, not both" -c "$c"
c=$(gh_conf "$d/secret-missing.conf" "[oidc]" "client_secret_file = $d/no-secret")
expect_error "client secret file missing" "$c:2: oidc.client_secret_file: cannot read" -c "$c"
c=$(gh_conf "$d/issuer-http.conf" "[oidc]" "issuer = http://idp.example.com")
expect_error "plain-http issuer off loopback" "$c:2: oidc.issuer:" -c "$c"
"$GATEHOUSED" --help | grep -q "usage: gatehoused"
check_eq "--help exits 0 with usage" 0 "${PIPESTATUS[0]}"
check "--version prints the version" bash -c "'$GATEHOUSED' --version | grep -Eq '^gatehoused [0-9]+\.[0-9]+\.[0-9]+$'"
gh_finish
