#!/usr/bin/env bash
# Generates docs/configuration.md, the configuration reference, from the `--help` of
# every binary and subcommand, so that it cannot drift from the code.
#
#   bash scripts/gen_config_docs.sh           # rewrite docs/configuration.md
#   bash scripts/gen_config_docs.sh --check   # CI: fail when the committed file differs
#
# Builds the three binaries (dev profile, --locked: after `cargo test` they are already
# there; the help text does not depend on the profile) unless NBA_BIN_DIR names a folder
# that has them. The help is rendered with a fixed width and an empty environment: clap
# shows an environment variable's current value beside its name, which must not leak
# into the document.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-write}
out=docs/configuration.md

if [ -z "${NBA_BIN_DIR:-}" ]; then
    cargo build --locked -p nba-ingest -p nba-trainer -p nba-server >&2
    NBA_BIN_DIR=${CARGO_TARGET_DIR:-target}/debug
fi

help() { # help BIN [SUBCOMMAND...]
    env -i PATH=/usr/bin:/bin COLUMNS=100 "$NBA_BIN_DIR/$1" "${@:2}" --help </dev/null 2>&1
}
# Subcommand names from the "Commands:" section of a help text (not "help").
subcommands() {
    awk '/^Commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }' | grep -vx help || true
}

# shellcheck disable=SC2016 # backticks are Markdown, not command substitution
gen() {
    cat <<'MD'
# Configuration reference

Every flag and environment variable of `nba-ingest`, `nba-trainer` and `nba-server`,
as each binary prints it with `--help`. **Generated** by `scripts/gen_config_docs.sh`
(do not edit by hand); `scripts/gen_config_docs.sh --check` fails when this file and
the binaries disagree.

Conventions shared by the three binaries:

- Every setting is a flag and, where the help shows `[env: NAME=]`, also an environment
  variable; a flag given on the command line wins over the variable.
- Secrets are read from files (`CLICKHOUSE_PASSWORD_FILE`, `NBA_AUTH_TOKEN_FILE`), never
  printed; in Kubernetes the files are mounted Secrets and every other variable comes
  from the ConfigMap `nba-config` (`k8s/base/config/nba.env`, overlays merge into it).
- ClickHouse and logging flags are the same in the three binaries (`nba-store`'s
  `ClickHouseArgs`, `nba-logging`'s `LogArgs`). Log level: `-v`/`-vv`, else
  `--log-level`/`NBA_LOG`, else `RUST_LOG` (e.g. `info,nba_server=debug`), else `info`;
  `--log-format text|json` (`NBA_LOG_FORMAT`); colour only on a terminal.
- Exit codes: `nba-ingest` 0 success, 1 finished with rejected files / failed pages / a
  critical validation failure, 2 error; `nba-trainer` 0 ok, 3 trained but the promotion
  gate refused, 2 error; `nba-server` 0 after a clean shutdown, 2 error.
- The batch-job wrappers (`k8s/jobs/*.sh`) add `NBA_PUSHGATEWAY_URL`,
  `NBA_PUSH_TIMEOUT_SECS`, `NBA_SCRAPE_LOOKBACK_DAYS`, `NBA_BACKFILL_FROM`,
  `NBA_BACKFILL_TO`, `NBA_BACKFILL_PATHS` and `NBA_JOB_NAME`, documented in each script's header.

## Environment variables

| variable | binary and subcommands |
| --- | --- |
MD
    local bin sub text
    : >"$tmpd/env.tsv"
    for bin in nba-ingest nba-trainer nba-server; do
        for sub in $(help "$bin" | subcommands); do
            { help "$bin" "$sub" | tr '\n' ' ' | tr -s ' ' | grep -oE '\[env: [A-Z0-9_]+' || true; } | sed 's/\[env: //' \
                | while read -r var; do printf '%s\t%s %s\n' "$var" "$bin" "$sub"; done >>"$tmpd/env.tsv"
        done
    done
    sort -u "$tmpd/env.tsv" | awk -F'\t' '
        $1 != prev { if (prev != "") print "| `" prev "` | " list " |"; prev = $1; list = "`" $2 "`"; next }
        { list = list ", `" $2 "`" }
        END { if (prev != "") print "| `" prev "` | " list " |" }'
    for bin in nba-ingest nba-trainer nba-server; do
        printf '\n## %s\n\n```text\n%s\n```\n' "$bin" "$(help "$bin")"
        for sub in $(help "$bin" | subcommands); do
            text=$(help "$bin" "$sub")
            printf '\n### %s %s\n\n```text\n%s\n```\n' "$bin" "$sub" "$text"
        done
    done
}

tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
gen >"$tmpd/configuration.md"
case $mode in
    write)
        mv "$tmpd/configuration.md" "$out"
        echo "wrote $out" >&2
        ;;
    --check)
        if ! diff -u "$out" "$tmpd/configuration.md" >"$tmpd/diff"; then
            head -n 60 "$tmpd/diff" >&2
            echo "gen_config_docs: $out differs from the binaries' --help: run bash scripts/gen_config_docs.sh and commit" >&2
            exit 1
        fi
        echo "gen_config_docs: $out matches the binaries' --help" >&2
        ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
