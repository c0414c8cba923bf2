#!/usr/bin/env bash
# Run a private, throw-away replicated ClickHouse: one ZooKeeper and two ClickHouse 18.16
# servers on loopback, forming the cluster CLUSTER (one shard, two replicas), for the
# replication tests and for trying `--cluster` by hand.
#
#   scripts/clickhouse_cluster.sh start  DIR   start (or reuse) what is not running; prints
#                                              two lines on stdout: the replicas' HTTP URLs
#   scripts/clickhouse_cluster.sh stop   DIR   stop both servers, then ZooKeeper; idempotent
#   scripts/clickhouse_cluster.sh status DIR   one line per process: "running" or "stopped"
#
# Environment (read on the first start; later starts reuse the ports recorded in DIR):
#   CLICKHOUSE_CLUSTER_NAME    the cluster's name in remote_servers (default nba_cluster)
#   CLICKHOUSE_CLUSTER_PORTS   "ZK HTTP1 TCP1 INTER1 HTTP2 TCP2 INTER2": ZooKeeper's client
#                              port, then HTTP, native and interserver port of each replica
#                              (default "22181 28123 29000 29009 28124 29001 29010")
#
# Each server is scripts/clickhouse.sh on its own folder (DIR/replica1, DIR/replica2):
# that script writes the main config on each start, this one adds config.d/cluster.xml
# beside it (ClickHouse merges config.d/*.xml into the main config): the interserver port
# replicas fetch parts through, the {shard}/{replica} macros, the zookeeper section,
# remote_servers with the cluster (internal_replication: the replicated tables copy the
# data themselves) and distributed_ddl (without it 18.16 refuses ON CLUSTER).
#
# ZooKeeper is Debian's (package `zookeeper`, the server classes that the `zookeeperd`
# service package only wraps in a systemd unit), run here as a plain java process on
# 127.0.0.1 with its data in DIR/zookeeper, not as the system service.
#
# Only the URLs go to stdout; every other message goes to stderr.
set -euo pipefail

readonly ZK_JAR=/usr/share/java/zookeeper.jar
CH_SCRIPT="$(cd "$(dirname "$0")" && pwd)/clickhouse.sh"
readonly CH_SCRIPT
readonly DEFAULT_PORTS="22181 28123 29000 29009 28124 29001 29010"

log() { printf 'clickhouse_cluster.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# ZooKeeper's jars and a java to run them, installed only when missing.
ensure_zookeeper() {
    [ -f "$ZK_JAR" ] && command -v java >/dev/null 2>&1 && return 0
    log "installing Debian's zookeeper"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
                   -o DPkg::Lock::Timeout=300 zookeeper)
    if ! apt-cache show zookeeper >/dev/null 2>&1 || ! as_root "${install[@]}" >&2; then
        as_root apt-get update -o DPkg::Lock::Timeout=300 >&2
        as_root "${install[@]}" >&2
    fi
    [ -f "$ZK_JAR" ] || die "$ZK_JAR still missing after installing zookeeper"
    command -v java >/dev/null 2>&1 || die "no java after installing zookeeper"
}

# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

# Reads the ports recorded by the first start, else the environment's, and records them.
load_ports() {
    local ports
    if [ -s "$DIR/ports" ]; then
        ports=$(head -n1 "$DIR/ports")
    else
        ports=${CLICKHOUSE_CLUSTER_PORTS:-$DEFAULT_PORTS}
    fi
    read -r ZK_PORT HTTP1 TCP1 INTER1 HTTP2 TCP2 INTER2 EXTRA <<<"$ports" || true
    if [ -z "$INTER2" ] || [ -n "${EXTRA:-}" ]; then
        die "CLICKHOUSE_CLUSTER_PORTS must be 7 ports, got '$ports'"
    fi
    local p
    for p in $ports; do
        if ! [[ $p =~ ^[0-9]{1,5}$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
            die "invalid port '$p' in '$ports'"
        fi
    done
    [ "$(tr ' ' '\n' <<<"$ports" | sort -u | wc -l)" -eq 7 ] || die "the 7 ports must differ: '$ports'"
    if [ -s "$DIR/cluster" ]; then
        CLUSTER=$(head -n1 "$DIR/cluster")
    else
        CLUSTER=${CLICKHOUSE_CLUSTER_NAME:-nba_cluster}
    fi
    [[ $CLUSTER =~ ^[A-Za-z0-9_]+$ ]] || die "CLICKHOUSE_CLUSTER_NAME must be letters, digits and underscores"
    echo "$ports" >"$DIR/ports"
    echo "$CLUSTER" >"$DIR/cluster"
}

# ---------------------------------------------------------------------------
# ZooKeeper
# ---------------------------------------------------------------------------

zk_dir() { echo "$DIR/zookeeper"; }

# The PID of DIR's ZooKeeper if it runs (checked against its command line, so a reused
# PID is never taken for it).
zk_pid() {
    local f pid
    f="$(zk_dir)/zookeeper.pid"
    [ -s "$f" ] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(zk_dir)/zoo.cfg" || return 1
    echo "$pid"
}

# True once ZooKeeper serves sessions: `srvr` names its mode then. (`ruok` is not enough:
# it answers imok while the database is still loading, when session requests are closed
# unanswered, and ClickHouse 18.16 then starts without ZooKeeper and crashes on the first
# ON CLUSTER statement.)
zk_ok() {
    local answer
    answer=$( (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null || true)
    [[ $answer == *"Mode: standalone"* ]]
}

write_zk_config() {
    local d
    d=$(zk_dir)
    mkdir -p "$d/data"
    # A short tick: sessions of a killed server expire within seconds, not half a minute.
    cat >"$d/zoo.cfg" <<EOF
# Written by scripts/clickhouse_cluster.sh on each start; edits are lost.
tickTime=500
initLimit=10
syncLimit=5
dataDir=$d/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr
autopurge.purgeInterval=1
EOF
    cat >"$d/log4j.properties" <<EOF
log4j.rootLogger=WARN, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=$d/zookeeper.log
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d %p %c: %m%n
EOF
}

start_zookeeper() {
    local d pid
    d=$(zk_dir)
    if pid=$(zk_pid); then
        log "ZooKeeper already running (pid $pid)"
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT") 2>/dev/null && die "port $ZK_PORT is taken by another process; choose CLICKHOUSE_CLUSTER_PORTS"
        write_zk_config
        : >"$d/zookeeper.out"
        # setsid and closed descriptors, as clickhouse.sh does for its server: the process
        # outlives the caller and holds none of its pipes.
        # shellcheck disable=SC2016 # $$ and $1.. are for the inner sh
        (cd "$d" && exec setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' zookeeper-launch "$d/zookeeper.pid" \
            java -Xms64m -Xmx256m -Dlog4j.configuration="file:$d/log4j.properties" \
            -Dzookeeper.4lw.commands.whitelist=srvr \
            -cp "$d:$ZK_JAR" org.apache.zookeeper.server.ZooKeeperServerMain "$d/zoo.cfg" \
            </dev/null >>"$d/zookeeper.out" 2>&1 8>&-) &
    fi
    # The PID file appears as soon as the launcher shell runs.
    for _ in $(seq 1 50); do
        [ -s "$d/zookeeper.pid" ] && break
        sleep 0.1
    done
    local deadline=$(( $(date +%s) + 60 ))
    until zk_ok; do
        if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$(tr -dc '0-9' <"$d/zookeeper.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
            tail -n 30 "$d/zookeeper.out" "$d/zookeeper.log" >&2 2>/dev/null || true
            die "ZooKeeper did not answer on 127.0.0.1:$ZK_PORT"
        fi
        sleep 0.1
    done
}

stop_zookeeper() {
    local pid
    if ! pid=$(zk_pid); then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$(zk_dir)/zookeeper.pid"; log "ZooKeeper stopped (pid $pid)"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$(zk_dir)/zookeeper.pid"
    log "ZooKeeper killed (pid $pid)"
}

# ---------------------------------------------------------------------------
# The two ClickHouse replicas
# ---------------------------------------------------------------------------

# config.d/cluster.xml of replica $1 (interserver port $2).
write_replica_config() {
    local n=$1 inter=$2 d="$DIR/replica$1"
    mkdir -p "$d/config.d"
    cat >"$d/config.d/cluster.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse_cluster.sh on each start; edits are lost. -->
<yandex>
    <!-- Replicas fetch parts from each other over HTTP on this port, at this host. -->
    <interserver_http_port>$inter</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>

    <macros>
        <shard>01</shard>
        <replica>replica$n</replica>
    </macros>

    <zookeeper>
        <node>
            <host>127.0.0.1</host>
            <port>$ZK_PORT</port>
        </node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>

    <remote_servers>
        <$CLUSTER>
            <shard>
                <!-- The Replicated tables copy inserts between replicas themselves. -->
                <internal_replication>true</internal_replication>
                <replica>
                    <host>127.0.0.1</host>
                    <port>$TCP1</port>
                </replica>
                <replica>
                    <host>127.0.0.1</host>
                    <port>$TCP2</port>
                </replica>
            </shard>
        </$CLUSTER>
    </remote_servers>

    <!-- The queue of ON CLUSTER statements; 18.16 runs none without it. -->
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
EOF
}

# Runs clickhouse.sh $1 on replica $2's folder with its ports.
replica_script() {
    local cmd=$1 n=$2 http tcp
    if [ "$n" = 1 ]; then http=$HTTP1 tcp=$TCP1; else http=$HTTP2 tcp=$TCP2; fi
    # fd 8 (this script's lock) closed: a server started here must not hold it.
    CLICKHOUSE_HTTP_PORT=$http CLICKHOUSE_TCP_PORT=$tcp bash "$CH_SCRIPT" "$cmd" "$DIR/replica$n" 8>&-
}

cmd_start() {
    ensure_zookeeper
    start_zookeeper
    write_replica_config 1 "$INTER1"
    write_replica_config 2 "$INTER2"
    local url1 url2
    url1=$(replica_script start 1)
    url2=$(replica_script start 2)
    log "cluster $CLUSTER ready: ZooKeeper 127.0.0.1:$ZK_PORT, replicas $url1 and $url2 (data in $DIR)"
    echo "$url1"
    echo "$url2"
}

cmd_stop() {
    [ -d "$DIR" ] || { log "nothing to stop: $DIR does not exist"; return 0; }
    replica_script stop 1 || true
    replica_script stop 2 || true
    stop_zookeeper
}

cmd_status() {
    local rc=0 pid
    if pid=$(zk_pid) && zk_ok; then echo "zookeeper running (pid $pid)"; else echo "zookeeper stopped"; rc=1; fi
    for n in 1 2; do
        echo "replica$n $(replica_script status "$n" 2>/dev/null || true)"
        replica_script status "$n" >/dev/null 2>&1 || rc=1
    done
    return "$rc"
}

main() {
    if [ $# -ne 2 ] || [ -z "$2" ]; then
        usage
    fi
    local cmd=$1
    DIR=$(realpath -m -- "$2")
    [ "$DIR" != / ] || die "DIR must not be /"
    mkdir -p "$DIR"
    # One caller at a time per DIR (the replicas' own starts lock their folders too).
    exec 8>"$DIR/.cluster.lock"
    flock -w 300 8 || die "timed out waiting for the lock $DIR/.cluster.lock"
    load_ports
    case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        *) usage ;;
    esac
}

main "$@"
