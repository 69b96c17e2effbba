#!/usr/bin/env bash
# SIGHUP reloads the reloadable keys (log.level, http.hsts_max_age), keeps
# startup keys with a warning, and survives a broken file by keeping the
# running configuration. systemd readiness (Type=notify) is spoken through
# $NOTIFY_SOCKET: READY=1, RELOADING=1, STOPPING=1.
. "$(dirname "$0")/lib.sh"

d="$GH_TMP"
sock="$d/notify.sock"
# A stand-in for systemd's notify socket: records each datagram on a line.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    print("listening", file=out, flush=True)
    while True:
        msg = s.recv(4096).decode()
        print(msg, file=out, flush=True)
' "$sock" "$d/notify.log" &
GH_PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$d/notify.log" 2>/dev/null && break; sleep 0.05; done

conf="$d/gatehoused.conf"
write_conf() {
  gh_conf "$conf" "[server]" "port = 0" "data_dir = $d/data" \
    "[http]" "hsts_max_age = $1" "[log]" "level = $2" >/dev/null
}
write_conf 600 info
export NOTIFY_SOCKET="$sock"
check "starts with a config file" gh_start "$d/run" -c "$conf"
unset NOTIFY_SOCKET
sleep 0.2
check "sd_notify READY=1 sent" grep -qx "READY=1" "$d/notify.log"
hsts() { gh_curl /healthz -D - -o /dev/null | tr -d '\r' | sed -n 's/^strict-transport-security: //Ip'; }
check_eq "HSTS from the file" "max-age=600" "$(hsts)"
check "no debug lines at info" bash -c "! grep -q 'level=debug' '$GH_LOG'"

# Reload: new HSTS and log level apply; the port (startup key) does not.
write_conf 1200 debug
sed -i 's/^port = 0$/port = 1/' "$conf"
kill -HUP "$GH_PID"
for _ in $(seq 50); do grep -q 'msg="reloaded"' "$GH_LOG" && break; sleep 0.05; done
check "reload logged" grep -q 'msg="reloaded" changed=2' "$GH_LOG"
check_eq "HSTS max-age changed without a restart" "max-age=1200" "$(hsts)"
gh_curl /healthz -o /dev/null
check "log level changed to debug" grep -q 'level=debug comp=http .*msg=request' "$GH_LOG"
check "startup key change reported, not applied" \
  grep -q 'needs a restart; keeping the running value" key=server.port' "$GH_LOG"
check_eq "still on the old port" 200 "$(gh_curl /healthz -o /dev/null -w '%{http_code}')"
check "sd_notify RELOADING=1 sent" grep -qx "RELOADING=1" "$d/notify.log"

# A broken file on reload: error logged, old configuration kept.
printf '[http]\nhsts_max_age = soon\n' >"$conf"
kill -HUP "$GH_PID"
for _ in $(seq 50); do grep -q 'reload failed' "$GH_LOG" && break; sleep 0.05; done
check "broken reload reported with file, line and key" \
  grep -q "reload failed; keeping the running configuration\" err=\"$conf:2: http.hsts_max_age:" "$GH_LOG"
check_eq "still serving the previous HSTS value" "max-age=1200" "$(hsts)"
m=$(gh_curl /metrics)
check "reload counters in /metrics" bash -c \
  "grep -qx 'gatehouse_config_reloads_total{result=\"ok\"} 1' <<<'$m' &&
   grep -qx 'gatehouse_config_reloads_total{result=\"error\"} 1' <<<'$m'"
audit=$(sqlite3 "$d/data/gatehouse.db" "SELECT outcome FROM audit WHERE action='config.reload' ORDER BY id" | tr '\n' ' ')
check_eq "reloads audited" "ok error " "$audit"

gh_stop TERM
check_eq "clean stop after reloads" 0 "$GH_EXIT"
sleep 0.2
check "sd_notify STOPPING=1 sent" grep -qx "STOPPING=1" "$d/notify.log"
gh_finish
