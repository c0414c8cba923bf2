//! `nba-server`: the gRPC prediction server.
//!
//! Not built yet: see the prediction-server issue. This binary exists so the workspace layout is final.

fn main() {
    eprintln!("nba-server: not implemented yet (see the prediction-server issue)");
    std::process::exit(2);
}
