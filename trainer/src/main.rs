//! `nba-trainer`: trains, evaluates, exports and promotes the points model.
//!
//! Not built yet: see the trainer issue. This binary exists so the workspace layout is final.

fn main() {
    eprintln!("nba-trainer: not implemented yet (see the trainer issue)");
    std::process::exit(2);
}
