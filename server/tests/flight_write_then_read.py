"""A pyarrow.flight client that writes a whole table into DoExchange ["features"] before it
reads a single answer, as `write_table(...); done_writing(); read_all()` does. Run by the
Rust tests `flight::pyarrow_writing_everything_before_reading_*` and by the benchmark
`scripts/bench_flight_pyarrow.sh`.

    python flight_write_then_read.py ADDR ROWS BATCH_ROWS [small-window]

With `small-window` the client's gRPC receive window stays at its initial 64 KiB (no
BDP probing, which otherwise grows it to many MB on loopback): answers it has not read
then stay on the server, whatever the machine's load, which is what the backlog test
measures.

Prints one JSON line: {"rows": answered rows, "first": [predicted_points of the first 3],
"seconds": from opening the exchange to the last answer read}, or {"error": "<code>",
"message": "..."} when the server ends the exchange with an error. The feature columns come
from the server's own schema (GetSchema), plus a player_id column that the server hands
back with every answer. `flight_concurrent.py` builds its input with `feature_batch`.
"""
import json
import sys
import time

import pyarrow as pa
import pyarrow.flight as flight


def feature_batch(client, batch_rows):
    """The ["features"] descriptor and one batch of plausible values, sent again and again:
    building it is the slow part in pure Python (no numpy), and the server scores every
    row whatever it is."""
    descriptor = flight.FlightDescriptor.for_path("features")
    features = [f.name for f in client.get_schema(descriptor).schema]
    columns = [pa.array([f"p{i % 500:05d}" for i in range(batch_rows)], pa.string())]
    columns += [pa.array([float((i * 7 + j * 3) % 37) for i in range(batch_rows)], pa.float32()) for j in range(len(features))]
    return descriptor, pa.record_batch(columns, names=["player_id"] + features)


def write_rows(writer, batch, rows):
    """Writes `rows` rows (the batch again and again, the last one cut short), then ends
    the input."""
    writer.begin(batch.schema)
    sent = 0
    while sent < rows:
        n = min(batch.num_rows, rows - sent)
        writer.write_batch(batch.slice(0, n))
        sent += n
    writer.done_writing()


def main():
    addr, rows, batch_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    small_window = sys.argv[4:] == ["small-window"]
    options = [("grpc.http2.bdp_probe", 0)] if small_window else None
    client = flight.connect(addr, generic_options=options)
    descriptor, batch = feature_batch(client, batch_rows)

    started = time.perf_counter()
    writer, reader = client.do_exchange(descriptor)
    try:
        write_rows(writer, batch, rows)
        answered = reader.read_all()
        writer.close()
    except (flight.FlightError, pa.ArrowException) as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        sys.exit(0)
    seconds = time.perf_counter() - started
    first = answered.column("predicted_points").to_pylist()[:3]
    print(json.dumps({"rows": answered.num_rows, "first": first, "seconds": seconds}))


if __name__ == "__main__":
    main()
