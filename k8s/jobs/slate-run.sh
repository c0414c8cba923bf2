#!/usr/bin/env bash
# The day's slate predicted and stored (CronJobs nba-slate-morning, nba-slate-pretip):
# `nba-server slate` predicts every player of the day's games with what is known at the
# run's clock and writes them to `predictions` (source = slate); then push the outcome
# and what the run did (games, players, rows written, players and lineups set aside).
#
# Exit code: the binary's: 0 done (also on a day without games: an off day is a
# success); 1 done with players or lineups set aside (the rest is stored: a result, not
# a retry); 2 error (ClickHouse, no model, unreadable lineups file, bad flag).
#
# Environment (besides the binary's own NBA_SLATE_*/NBA_REGISTRY/CLICKHOUSE_* variables):
#   NBA_SLATE_RUN     this run's name, e.g. morning or pretip (required; rerunning a
#                     date's run writes only the players it has not stored yet)
#   NBA_SLATE_DATE    today (default), tomorrow or YYYY-MM-DD (read by nba-server)
#   NBA_SLATE_LINEUPS announced lineups file from a lineups feed (read by nba-server).
#                     `{date}` in it becomes the slate's date (YYYY-MM-DD, the league's
#                     US Eastern calendar), so a feed can write one file per day
#                     (/var/lib/nba/lineups/{date}.json) and yesterday's file is never
#                     read as today's. When the file is not there (the feed has not
#                     delivered), the run goes on without it and pushes
#                     nba_slate_lineups_file_present 0.
#   NBA_SERVER_BIN    the binary (default nba-server; tests use a stub)
#   NBA_JOB_NAME      Pushgateway job name (default nba-slate-$NBA_SLATE_RUN)
# shellcheck source=k8s/jobs/lib.sh
. "$(dirname "$0")/lib.sh"
SERVER=${NBA_SERVER_BIN:-nba-server}
run=${NBA_SLATE_RUN:-}
if [ -z "$run" ]; then
    job_start "${NBA_JOB_NAME:-nba-slate}"
    log "NBA_SLATE_RUN is required (the run's name, e.g. morning or pretip)"
    job_finish 2
fi
job_start "${NBA_JOB_NAME:-nba-slate-$run}"

# The slate's date as nba-server reads it: today and tomorrow on the league's calendar
# at the run's clock (NBA_SLATE_AS_OF, else now).
slate_date() {
    local at=${NBA_SLATE_AS_OF:-now}
    case ${NBA_SLATE_DATE:-today} in
        today) TZ=America/New_York date -d "$at" +%F ;;
        tomorrow) TZ=America/New_York date -d "$at + 1 day" +%F ;;
        *) printf '%s\n' "$NBA_SLATE_DATE" ;;
    esac
}

if [ -n "${NBA_SLATE_LINEUPS:-}" ]; then
    if [[ $NBA_SLATE_LINEUPS == *"{date}"* ]]; then
        export NBA_SLATE_LINEUPS=${NBA_SLATE_LINEUPS//\{date\}/$(slate_date)}
    fi
    if [ -f "$NBA_SLATE_LINEUPS" ]; then
        extra_metric "nba_slate_lineups_file_present 1"
    else
        log "warning: lineups file $NBA_SLATE_LINEUPS is not there; predicting without announced lineups"
        extra_metric "nba_slate_lineups_file_present 0"
        unset NBA_SLATE_LINEUPS
    fi
fi

# The summary goes to the log and is read back for the metrics.
summary=$(mktemp "${TMPDIR:-/tmp}/nba-slate.XXXXXX")
trap 'rm -f "$summary"' EXIT
step slate "$SERVER" slate --run "$run" "$@" >"$summary"
code=$?
cat "$summary"

# "  G games, P players: W written, A already stored by this run, F failed", and one
# "  lineup set aside: ..." line per team whose announced lineup could not be used.
# Absent when the run failed before predicting (exit 2): nothing is pushed for it then.
read -r games players written already failed < <(awk '
    match($0, /^  [0-9]+ games, [0-9]+ players: [0-9]+ written, [0-9]+ already stored by this run, [0-9]+ failed$/) {
        gsub(/[^0-9]+/, " "); print; found = 1 }
    END { if (!found) print "" }' "$summary")
if [[ ${games:-} =~ ^[0-9]+$ ]]; then
    extra_metric "nba_slate_games $games"
    extra_metric "nba_slate_players $players"
    extra_metric "nba_slate_written_rows $written"
    extra_metric "nba_slate_already_stored $already"
    extra_metric "nba_slate_failed_players $failed"
    extra_metric "nba_slate_rejected_lineups $(grep -c '^  lineup set aside: ' "$summary" || true)"
    # "  stored lines: N of W written players": players priced against a stored line.
    lined=$(sed -n 's/^  stored lines: \([0-9][0-9]*\) of [0-9][0-9]* written players$/\1/p' "$summary")
    extra_metric "nba_slate_lined_players ${lined:-0}"
elif [ "$code" -ne 2 ]; then
    log "warning: no summary line in the output; slate figures not pushed"
fi

job_finish "$code"
