"""A pyarrow.flight client of nba-server, run by the Rust test `flight::pyarrow_*`.

Fetches the slate of a date with DoGet, then sends the first ten slate rows back through
DoExchange ["requests"] (without inactive lists, so the server uses the stored ones) and
prints both answers as JSON for the test to compare with Predict.
"""
import json
import sys

import pyarrow as pa
import pyarrow.flight as flight

addr, date = sys.argv[1], sys.argv[2]
client = flight.connect(addr)
slate = client.do_get(flight.Ticket(f"slate/{date}".encode())).read_all()
rows = slate.to_pylist()

keys = slate.select(["player_id", "game_date", "opponent", "is_home", "team"]).slice(0, 10)
writer, reader = client.do_exchange(flight.FlightDescriptor.for_path("requests"))
writer.begin(keys.schema)
writer.write_table(keys)
writer.done_writing()
answered = reader.read_all()
writer.close()

print(json.dumps({"slate": rows, "exchange": answered.to_pylist()}))
