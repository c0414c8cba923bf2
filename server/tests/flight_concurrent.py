"""A pyarrow.flight client that reads DoExchange ["features"] answers while another thread
writes the input: the pattern that keeps answers flowing, and the end-to-end rate of
scoring through Flight. Run by the Rust test `flight::pyarrow_reading_while_writing_*` and
by the benchmark `scripts/bench_flight_pyarrow.sh`.

    python flight_concurrent.py ADDR ROWS BATCH_ROWS

Prints one JSON line: {"rows": answered rows, "first": [predicted_points of the first 3],
"seconds": from opening the exchange to the last answer read, "rows_per_s": rows / seconds},
or {"error": "<code>", "message": "..."} when the exchange fails. The input is that of
`flight_write_then_read.py` (its `feature_batch`), built before the clock starts.
"""
import json
import sys
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight

from flight_write_then_read import feature_batch, write_rows


def main():
    addr, rows, batch_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client = flight.connect(addr)
    descriptor, batch = feature_batch(client, batch_rows)

    started = time.perf_counter()
    writer, reader = client.do_exchange(descriptor)
    failed = []

    def write():
        try:
            write_rows(writer, batch, rows)
        except (flight.FlightError, pa.ArrowException) as e:
            failed.append(e)

    # pyarrow releases the GIL while it writes and reads, so both threads make progress.
    writing = threading.Thread(target=write)
    writing.start()
    answered, first = 0, None
    try:
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            if first is None:
                first = chunk.data.column("predicted_points").to_pylist()[:3]
            answered += chunk.data.num_rows
    except (flight.FlightError, pa.ArrowException) as e:
        failed.append(e)
    writing.join()
    if failed:
        print(json.dumps({"error": type(failed[0]).__name__, "message": str(failed[0])}))
        sys.exit(0)
    writer.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": answered, "first": first, "seconds": seconds, "rows_per_s": answered / seconds}))


if __name__ == "__main__":
    main()
