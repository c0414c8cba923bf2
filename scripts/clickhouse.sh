#!/usr/bin/env bash
# Run a private, throw-away ClickHouse server for development, tests and CI.
#
#   scripts/clickhouse.sh start  DIR   start (or reuse) the server whose files live in DIR;
#                                      prints exactly one line on stdout: its HTTP URL
#   scripts/clickhouse.sh stop   DIR   stop it (SIGTERM, then SIGKILL after 20 s); idempotent
#   scripts/clickhouse.sh status DIR   prints "running" (exit 0) or "stopped" (exit 1)
#   scripts/clickhouse.sh url    DIR   prints the HTTP URL of the server from DIR
#
# Environment:
#   CLICKHOUSE_HTTP_PORT      HTTP port    (default 18123)
#   CLICKHOUSE_TCP_PORT       native port  (default 19000)
#   CLICKHOUSE_START_TIMEOUT  seconds to wait for /ping on start (default 60)
#
# Everything the server writes (config, data, logs, pid) stays inside DIR, and the
# server runs without systemd, so this works the same on a laptop, a fresh CI machine
# and inside containers. The only server package on this project's machines is
# Debian's clickhouse-server 18.16; production runs ClickHouse 24.x+, so the config
# written here sticks to settings both accept (see docs/clickhouse.md).
#
# Only the URL goes to stdout so that callers (crates/testkit) can capture it;
# every other message goes to stderr.
set -euo pipefail

readonly SERVER_BIN=/usr/sbin/clickhouse-server
readonly DEFAULT_HTTP_PORT=18123
readonly DEFAULT_TCP_PORT=19000

log() { printf 'clickhouse.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Millisecond clock, used only to report how long a start took.
now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------

# Runs a command as root: this project's machines are root already, a developer's
# laptop may need sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Installs the server, its client and what this script itself uses (curl, tzdata), only
# when something is missing, so a warm machine pays nothing. tzdata is not a dependency of Debian's
# clickhouse-common, yet 18.16 refuses to start with <timezone>UTC</timezone> when
# /usr/share/zoneinfo/UTC is missing (minimal images), so it is installed too.
ensure_installed() {
    local missing=() extra=()
    [ -x "$SERVER_BIN" ] || missing+=(clickhouse-server)
    command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client)
    command -v curl >/dev/null 2>&1 || extra+=(curl)
    [ -e /usr/share/zoneinfo/UTC ] || extra+=(tzdata)
    [ "${#missing[@]}" -eq 0 ] && [ "${#extra[@]}" -eq 0 ] && return 0

    missing+=("${extra[@]}")
    log "installing: ${missing[*]}"
    # The helpers are named only when missing: naming an installed package makes
    # apt-get upgrade it, which is not this script's business.
    local pkgs=(clickhouse-server clickhouse-client "${extra[@]}")
    # DPkg::Lock::Timeout: two parallel first starts (different DIRs) must queue on
    # apt's locks instead of failing.
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
                   -o DPkg::Lock::Timeout=300 "${pkgs[@]}")
    local update=(apt-get update -o DPkg::Lock::Timeout=300)
    # apt-get update only when needed: when the package lists do not know the server
    # yet (fresh machine), or when an install from stale lists fails.
    if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
        as_root "${update[@]}" >&2 9>&-
        as_root "${install[@]}" >&2 9>&-
    elif ! as_root "${install[@]}" >&2 9>&-; then
        log "install failed; refreshing package lists and retrying"
        as_root "${update[@]}" >&2 9>&-
        as_root "${install[@]}" >&2 9>&-
    fi
    [ -x "$SERVER_BIN" ] || die "$SERVER_BIN still missing after installing clickhouse-server"
}

# ---------------------------------------------------------------------------
# Helpers on DIR
# ---------------------------------------------------------------------------

# Checks that $1 is a process running the server with DIR's config (and not, say, an
# unrelated process that reused the PID after a crash).
is_our_server() {
    local pid=$1 args=()
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    # mapfile rather than tr: this runs for every process when scanning /proc.
    mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || return 1
    [ "${#args[@]}" -ge 2 ] || return 1
    [[ ${args[0]} == *clickhouse-server && " ${args[*]:1} " == *" --config-file=$DIR/config.xml "* ]]
}

# Prints the PID of the server from DIR if one runs. Falls back to scanning /proc so a
# server whose pid file was deleted is still found (and can be stopped).
find_pid() {
    local pid=""
    [ -f "$PID_FILE" ] && pid=$(tr -dc '0-9' <"$PID_FILE")
    if is_our_server "$pid"; then
        echo "$pid"
        return 0
    fi
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if is_our_server "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# The URL of the server from DIR: the one recorded by the last start (its ports may
# differ from the current environment), else the one the environment would give.
server_url() {
    if [ -s "$DIR/url" ]; then
        head -n1 "$DIR/url"
    else
        echo "http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-$DEFAULT_HTTP_PORT}"
    fi
}

ping_ok() {
    [ "$(curl -fsS --max-time 2 "$1/ping" 2>/dev/null)" = "Ok." ]
}

# True if something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, so it
# needs neither ss nor netstat).
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

describe_port_owner() {
    if command -v ss >/dev/null 2>&1; then
        ss -ltnpH "sport = :$1" 2>/dev/null | sed 's/^/    /' >&2 || true
    fi
}

# The error log is appended to across runs: remember where this run starts so that a
# failed start shows its own errors, not last week's.
ERRLOG_SKIP=0
mark_errlog() {
    local f=$DIR/log/clickhouse-server.err.log
    ERRLOG_SKIP=0
    [ -f "$f" ] && ERRLOG_SKIP=$(wc -l <"$f")
    return 0
}

print_logs() {
    local f=$DIR/server.out
    if [ -s "$f" ]; then
        log "--- $f ---"
        tail -n 20 "$f" >&2
    fi
    f=$DIR/log/clickhouse-server.err.log
    if [ -s "$f" ]; then
        log "--- last lines of $f ---"
        tail -n "+$((ERRLOG_SKIP + 1))" "$f" | tail -n 40 >&2
    fi
}

# Takes DIR's lock (fd 9) so that concurrent start/stop calls — e.g. several test
# binaries starting at once — are serialised and start a single server.
take_lock() {
    exec 9>"$DIR/.lock"
    if ! flock -w 300 9; then
        die "timed out waiting for the lock $DIR/.lock"
    fi
}

# ---------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------

xml_escape() {
    local s=$1
    s=${s//&/&amp;}
    s=${s//</&lt;}
    s=${s//>/&gt;}
    printf '%s' "$s"
}

# Root element <yandex>: 18.16 only knows that one; 24.x accepts it as well as
# <clickhouse>. No interserver/MySQL/PostgreSQL ports: nothing listens except HTTP and
# native TCP on 127.0.0.1.
write_config() {
    local d
    d=$(xml_escape "$DIR")
    mkdir -p "$DIR/data" "$DIR/tmp" "$DIR/user_files" "$DIR/format_schemas" "$DIR/log"
    cat >"$DIR/config.xml.new" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh on each start; edits are lost. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/clickhouse-server.log</log>
        <errorlog>$d/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <http_port>$HTTP_PORT</http_port>
    <tcp_port>$TCP_PORT</tcp_port>
    <!-- The clickhouse crate drops idle pooled connections after 2 s; the server's default
         3 s keep-alive leaves a race (a request sent on a connection the server is closing
         fails with SendRequest) that a loaded machine loses. 30 s removes it. -->
    <keep_alive_timeout>30</keep_alive_timeout>

    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>

    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>

    <!-- Test data is small: keep the caches modest (defaults are 5 and 8 GB). -->
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>

    <!-- Tests drop whole databases; never refuse because a table is big. -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
    cat >"$DIR/users.xml.new" <<'EOF'
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh on each start; edits are lost. -->
<yandex>
    <profiles>
        <default>
            <!-- 18.16 rejects LowCardinality columns without this; 24.x ignores it. -->
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
            <max_memory_usage>8000000000</max_memory_usage>
            <log_queries>0</log_queries>
        </default>
    </profiles>

    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <!-- TEST ONLY: a user with a password, so tests can log in the way a deployment
             does (CLICKHOUSE_USER + CLICKHOUSE_PASSWORD_FILE). The password is public
             (crates/testkit PASSWORD_USER); this server listens on loopback only.
             18.16 has no CREATE USER, hence here. All databases, like default. -->
        <nba_secret>
            <password>nba-test-password</password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </nba_secret>
    </users>

    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
    mv -f "$DIR/config.xml.new" "$DIR/config.xml"
    mv -f "$DIR/users.xml.new" "$DIR/users.xml"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

# Waits until the server from DIR answers /ping. Returns 1 if it died, 2 on timeout.
wait_ready() {
    local pid=$1 url=$2 deadline=$(( $(date +%s) + START_TIMEOUT ))
    while :; do
        if ping_ok "$url"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            return 2
        fi
        sleep 0.1
    done
}

cmd_start() {
    mkdir -p "$DIR"
    # Lock before installing too: parallel first starts then run apt-get one at a time.
    # (flock itself is in util-linux, which every Debian system has.)
    take_lock
    ensure_installed

    local pid url
    # Already running from DIR: reuse it (start is idempotent).
    if pid=$(find_pid); then
        url=$(server_url)
        if ping_ok "$url" || wait_ready "$pid" "$url"; then
            [ -f "$PID_FILE" ] || echo "$pid" >"$PID_FILE"
            log "already running (pid $pid)"
            if [ "$url" != "http://127.0.0.1:$HTTP_PORT" ]; then
                log "note: it listens on $url, not on the ports in the environment; stop it to change them"
            fi
            echo "$url"
            return 0
        fi
        print_logs
        die "a server from $DIR is running (pid $pid) but does not answer $url/ping; run: $0 stop $DIR"
    fi
    rm -f "$PID_FILE"

    url="http://127.0.0.1:$HTTP_PORT"
    local port
    for port in "$HTTP_PORT" "$TCP_PORT"; do
        if port_busy "$port"; then
            if [ "$port" = "$HTTP_PORT" ] && ping_ok "$url"; then
                log "port $port is taken by another ClickHouse server, not the one from $DIR"
            else
                log "port $port is taken by another process"
            fi
            describe_port_owner "$port"
            die "cannot start on 127.0.0.1:$port; stop that process or choose other ports with CLICKHOUSE_HTTP_PORT / CLICKHOUSE_TCP_PORT"
        fi
    done

    write_config
    echo "$url" >"$DIR/url"
    : >"$DIR/server.out"
    mark_errlog

    local t0
    t0=$(now_ms)
    # setsid: own session, so the server outlives the caller's terminal or test process
    # and gets no SIGHUP/SIGINT meant for it. The small sh writes its own PID and then
    # execs the server, so the PID is exact even if setsid had to fork.
    # stdin/stdout/stderr are redirected and the lock fd 9 is closed: a server holding
    # the caller's pipe would make `Command::output()` hang, and one holding fd 9 would
    # keep DIR locked for its whole life.
    # Run from DIR: the server resolves relative paths against its working directory.
    # shellcheck disable=SC2016 # $$ and $1.. are for the inner sh
    (cd "$DIR" && exec setsid sh -c 'echo $$ >"$1"; exec "$2" --config-file="$3"' \
        clickhouse-launch "$PID_FILE" "$SERVER_BIN" "$DIR/config.xml" \
        </dev/null >>"$DIR/server.out" 2>&1 9>&-) &

    # The PID file appears as soon as the launcher shell runs.
    for _ in $(seq 1 50); do
        [ -s "$PID_FILE" ] && break
        sleep 0.1
    done
    pid=$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)
    [ -n "$pid" ] || { print_logs; die "the server did not start (no PID written to $PID_FILE)"; }

    local rc=0
    wait_ready "$pid" "$url" || rc=$?
    case $rc in
        0)
            log "ClickHouse $(curl -fsS --max-time 2 "$url/" --data-binary 'SELECT version()' 2>/dev/null || echo '?') ready at $url (pid $pid, data in $DIR) after $(( $(now_ms) - t0 )) ms"
            echo "$url"
            ;;
        1)
            rm -f "$PID_FILE"
            print_logs
            die "the server exited during start-up (see above)"
            ;;
        *)
            print_logs
            terminate "$pid" || true
            rm -f "$PID_FILE"
            die "the server did not answer $url/ping within ${START_TIMEOUT}s"
            ;;
    esac
}

# SIGTERM, up to 20 s for a clean shutdown (18.16 takes ~2-3 s), then SIGKILL.
terminate() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid still running after 20 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid survived SIGKILL"
    return 1
}

cmd_stop() {
    [ -d "$DIR" ] || { log "nothing to stop: $DIR does not exist"; return 0; }
    take_lock
    local pid
    if ! pid=$(find_pid); then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    terminate "$pid"
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    local pid url
    url=$(server_url)
    if [ -d "$DIR" ] && pid=$(find_pid); then
        if ping_ok "$url"; then
            log "pid $pid, $url"
            echo running
            return 0
        fi
        log "process $pid from $DIR exists but does not answer $url/ping"
    fi
    echo stopped
    return 1
}

cmd_url() {
    server_url
}

main() {
    [ $# -eq 2 ] || usage
    local cmd=$1
    [ -n "$2" ] || usage
    # Absolute DIR: the server's config paths must not depend on the caller's cwd, and
    # the PID check matches the exact --config-file argument.
    DIR=$(realpath -m -- "$2")
    [ "$DIR" != / ] || die "DIR must not be /"
    PID_FILE=$DIR/clickhouse.pid
    HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-$DEFAULT_HTTP_PORT}
    TCP_PORT=${CLICKHOUSE_TCP_PORT:-$DEFAULT_TCP_PORT}
    START_TIMEOUT=${CLICKHOUSE_START_TIMEOUT:-60}
    local port
    for port in "$HTTP_PORT" "$TCP_PORT"; do
        if ! [[ $port =~ ^[0-9]{1,5}$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
            die "invalid port '$port' (CLICKHOUSE_HTTP_PORT / CLICKHOUSE_TCP_PORT must be 1-65535)"
        fi
    done
    [[ $START_TIMEOUT =~ ^[0-9]+$ ]] || die "CLICKHOUSE_START_TIMEOUT must be a number of seconds"
    [ "$HTTP_PORT" != "$TCP_PORT" ] || die "CLICKHOUSE_HTTP_PORT and CLICKHOUSE_TCP_PORT must differ"

    case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        url) cmd_url ;;
        *) usage ;;
    esac
}

main "$@"
