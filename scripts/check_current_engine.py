"""Replays the statements the binaries sent to ClickHouse 18.16 on a current engine (chdb,
ClickHouse 26.x in-process) and fails on any it rejects. Run by
scripts/check_current_engine.sh, which captures the statements (the 18.16 server's
query log, one JSON object a line: type, query, exception) and exports the tables
(TSVWithNamesAndTypes, one file a table).

Three phases, in one chdb session:
1. the schema: the captured DDL (CREATE DATABASE/TABLE/VIEW, DROP TABLE, ALTER TABLE ...
   ADD/DROP COLUMN) in the order the server received it; plain engines, as `migrate`
   creates them without a cluster. Before an ADD COLUMN its column is dropped, as the
   shell script dropped it on 18.16 before migrating again;
2. the data: each exported table loaded into its table;
3. every other distinct captured statement, in order. An INSERT arrives as
   `INSERT INTO t(cols) FORMAT RowBinary` with its rows in the request body, which the
   log does not keep; it is checked as `INSERT INTO t(cols) SELECT cols FROM t LIMIT 1`
   (same table and column list; one row copied).

What is compared is acceptance, not results: the data differs from what 18.16 had when a
statement ran (chdb gets the final tables, mutations and inserts replayed on top), so a
count or a chosen row may differ; only an error is a finding. Statements 18.16 itself
refused (the log's exceptions) are counted and left out.

Exit 0 when every statement is accepted, 1 when any is rejected, 2 on bad input.
"""

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import chdb
import chdb.session

DDL = re.compile(r"^\s*(CREATE\s+(DATABASE|TABLE|VIEW|MATERIALIZED\s+VIEW)|DROP\s+TABLE|ALTER\s+TABLE\s+\S+\s+(ADD|DROP)\s+COLUMN)", re.I)
INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>[^\s(]+)\s*\((?P<cols>[^)]*)\)\s*FORMAT\s+\w+\s*$", re.I | re.S)
ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(?P<table>\S+)\s+ADD\s+COLUMN\s+(?P<column>\S+)", re.I)
CODE = re.compile(r"Code: (\d+)")


def read_statements(path: Path) -> tuple[list[str], int]:
    """The statements 18.16 accepted, in order, and how many it refused."""
    accepted, refused = [], 0
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
            query, exception = row["query"], row["exception"]
        except (ValueError, KeyError) as e:
            sys.exit(f"check_current_engine: {path} line {n}: not a query-log row ({e})")
        if exception:
            refused += 1
        else:
            accepted.append(query.strip())
    return accepted, refused


def replayable(sql: str) -> str:
    """The statement as chdb runs it: an INSERT's rows come from the table itself."""
    m = INSERT.match(sql)
    if not m:
        return sql
    return f"INSERT INTO {m['table']}({m['cols']}) SELECT {m['cols']} FROM {m['table']} LIMIT 1"


def text(session, sql: str) -> str:
    return session.query(sql, "TSV").bytes().decode().strip()


def load_tables(session, database: str, folder: Path) -> int:
    rows = 0
    for f in sorted(folder.glob("*.tsv")):
        session.query(f"INSERT INTO `{database}`.`{f.stem}` SELECT * FROM file('{f}', 'TSVWithNamesAndTypes')")
        rows += int(text(session, f"SELECT count() FROM `{database}`.`{f.stem}`"))
    return rows


def run(session, sql: str) -> str | None:
    """None when the engine accepts `sql`, else its error (first line)."""
    try:
        session.query(sql, "Null")
        return None
    except Exception as e:  # chdb raises its own error types; the message carries the code
        return str(e).strip().splitlines()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", required=True)
    ap.add_argument("--statements", type=Path, required=True, help="query-log rows, JSON lines")
    ap.add_argument("--tables", type=Path, required=True, help="folder of <table>.tsv (TSVWithNamesAndTypes)")
    args = ap.parse_args()

    statements, refused = read_statements(args.statements)
    if not statements:
        print(f"check_current_engine: no statements in {args.statements}", file=sys.stderr)
        return 2
    ddl = [s for s in statements if DDL.match(s)]
    rest = list(dict.fromkeys(s for s in statements if not DDL.match(s)))
    print(f"captured: {len(statements)} statements accepted by 18.16 ({refused} refused by 18.16 itself, left out): "
          f"{len(ddl)} DDL, {len(rest)} distinct others")

    rejected: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="nba-chdb-") as path:
        session = chdb.session.Session(path)
        version = text(session, "SELECT version()")
        print(f"current engine: ClickHouse {version} (chdb-core {chdb.__version__})")
        for sql in ddl:
            if m := ADD_COLUMN.match(sql):
                # The shell script dropped migration 8's columns before its second
                # migrate (as a database from before it lacks them): the same here.
                session.query(f"ALTER TABLE {m['table']} DROP COLUMN IF EXISTS {m['column']}")
            if (err := run(session, sql)) is not None:
                rejected.append(("schema", sql, err))
        if rejected:
            print("the schema was rejected: the data and the other statements were not tried")
        else:
            rows = load_tables(session, args.database, args.tables)
            print(f"schema created, {rows} rows loaded into {len(list(args.tables.glob('*.tsv')))} tables")
            session.query(f"USE `{args.database}`")
            for sql in rest:
                if (err := run(session, replayable(sql))) is not None:
                    rejected.append(("statement", sql, err))
        session.close()

    checked = len(ddl) + (0 if any(k == "schema" for k, _, _ in rejected) else len(rest))
    print(f"checked {checked} statements on ClickHouse {version}: {checked - len(rejected)} accepted, {len(rejected)} rejected")
    for kind, sql, err in rejected:
        code = CODE.search(err)
        print(f"\nREJECTED ({kind}, code {code[1] if code else '?'}): {err}\n  {sql}")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
