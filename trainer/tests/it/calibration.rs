//! Calibrated intervals on real data: the manifest's uncertainty table comes from the
//! validation period (another test period, or `--refit`, leaves it unchanged), holds every
//! validation row once per game-day state, and the test-period calibration reports
//! coverage per bucket, the reliability of P(over), Brier and ECE for the table and the
//! pooled method, in report.md too.

use crate::util::*;
use nba_registry::{GameDayState, MethodCalibration, Uncertainty};
use nba_trainer::calibration::{BUCKET_EDGES, MIN_BUCKET_ROWS};
use nba_trainer::manifest::Manifest;
use nba_trainer::registry::Registry;

fn table(m: &Manifest) -> &Uncertainty {
    m.uncertainty.as_ref().expect("the manifest has the uncertainty table")
}

/// The table without its provenance sentence (which names the refit).
fn percentiles(u: &Uncertainty) -> Uncertainty {
    Uncertainty { source: String::new(), ..u.clone() }
}

/// Bucket rows add up to the overall rows, bins to the line rows, and the ECE and Brier
/// are what the bins say.
fn check_method(what: &str, c: &MethodCalibration, scored: usize) {
    assert_eq!(c.overall.rows, scored, "{what}");
    assert_eq!(c.buckets.iter().map(|b| b.rows).sum::<usize>(), scored, "{what}");
    assert!(c.buckets.iter().all(|b| (0.0..=1.0).contains(&b.coverage) && b.mean_width > 1.0), "{what}: {:?}", c.buckets);
    // Scored rows have min_avg_10 >= 15: never the bucket under 15 nor "no history".
    assert!(c.buckets.iter().all(|b| b.bucket != "<15" && b.bucket != nba_registry::uncertainty::NO_HISTORY), "{what}");
    assert!(c.line_rows > scored * 9 / 10 && c.line_rows <= scored, "{what}: {} lines", c.line_rows);
    assert_eq!(c.reliability.iter().map(|b| b.rows).sum::<usize>(), c.line_rows, "{what}");
    let ece: f64 = c.reliability.iter().filter(|b| b.rows > 0).map(|b| b.rows as f64 / c.line_rows as f64 * (b.mean_predicted - b.observed).abs()).sum();
    assert!((ece - c.ece).abs() < 1e-9 && c.ece < 0.2, "{what}: {ece} vs {}", c.ece);
    assert!(c.brier > 0.1 && c.brier < 0.3, "{what}: Brier {}", c.brier);
    for b in c.reliability.iter().filter(|b| b.rows > 0) {
        assert!(b.mean_predicted >= b.lo - 1e-12 && b.mean_predicted <= b.hi + 1e-12, "{what}: {b:?}");
    }
}

#[tokio::test]
async fn the_table_comes_from_validation_and_coverage_is_reported_per_bucket() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let a = nba_trainer::train(&args(store, &[]), dir.path()).await.unwrap().manifest;
    let u = table(&a);

    // Every validation row once per state (each row in the state its vector shows).
    assert_eq!(u.states.iter().map(|s| s.rows).sum::<usize>(), 3 * a.split.validation.rows);
    assert_eq!(u.states.iter().map(|s| s.state).collect::<Vec<_>>(), GameDayState::ALL);
    assert_eq!(u.edges, BUCKET_EDGES);
    for s in &u.states {
        assert_eq!(s.buckets.len(), BUCKET_EDGES.len() + 2);
        assert_eq!(s.buckets.iter().map(|b| b.rows).sum::<usize>(), s.rows);
        for b in &s.buckets {
            assert_eq!(b.quantiles.len(), if b.rows >= MIN_BUCKET_ROWS { 99 } else { 0 }, "{:?} {}", s.state, b.bucket);
        }
    }
    // State C (the morning) is wider than state A in the pooled percentiles.
    let w = |q: &[f64]| q[89] - q[9];
    assert!(w(&u.states[2].pooled) > w(&u.states[0].pooled), "{} vs {}", w(&u.states[2].pooled), w(&u.states[0].pooled));
    assert_eq!(a.residual_quantiles.len(), 99);

    // The test period shapes nothing of it.
    let b = nba_trainer::train(&args(store, &["--test", "2024-03-08..2024-03-20"]), dir.path()).await.unwrap().manifest;
    assert_ne!(a.split.test.rows, b.split.test.rows);
    assert_eq!(table(&b), u, "another test period, the same table");
    assert_eq!(b.residual_quantiles, a.residual_quantiles);
    // With --refit the shipped trees differ, the table is still the early-stopped model's.
    let r = nba_trainer::train(&args(store, &["--refit"]), dir.path()).await.unwrap().manifest;
    assert_ne!(r.model_sha256, a.model_sha256);
    assert_eq!(percentiles(table(&r)), percentiles(u));
    assert!(table(&r).source.contains("not the refitted trees"), "{}", table(&r).source);

    // The test calibration: states A and C, the table and the pooled method.
    let c = a.calibration.as_ref().expect("the manifest has the calibration");
    let scored = a.metrics.scored.model.rows;
    assert_eq!(c.states.iter().map(|s| s.state).collect::<Vec<_>>(), [GameDayState::ListsAndLineupsKnown, GameDayState::NothingKnown]);
    for s in &c.states {
        check_method(&format!("{:?} table", s.state), &s.by_role, scored);
        check_method(&format!("{:?} pooled", s.state), &s.pooled, scored);
        assert_eq!(s.by_role.line_rows, s.pooled.line_rows);
    }
    // The pooled method gives everyone the same width (less where p10 is clamped at 0
    // points, never for 34+ minutes); the table does not.
    let a_pooled = &c.states[0].pooled.buckets;
    let full = a.residual_quantiles[89] - a.residual_quantiles[9];
    assert!(a_pooled.iter().all(|b| b.mean_width <= full + 1e-9), "{a_pooled:?}");
    assert!((a_pooled.last().unwrap().mean_width - full).abs() < 1e-6, "{a_pooled:?}");
    let a_table = &c.states[0].by_role.buckets;
    assert!(a_table.last().unwrap().mean_width > a_table[0].mean_width + 1.0, "{a_table:?}");

    // The manifest reads back what was written (empty reliability bins are NaN: null;
    // serde_json parses floats to within an ulp).
    let on_disk = Registry::new(dir.path()).manifest(&a.version).unwrap();
    let flat =
        |u: &Uncertainty| u.states.iter().flat_map(|s| s.pooled.iter().chain(s.buckets.iter().flat_map(|b| &b.quantiles))).copied().collect::<Vec<f64>>();
    let (disk, mem) = (flat(table(&on_disk)), flat(u));
    assert_eq!(disk.len(), mem.len());
    assert!(disk.iter().zip(&mem).all(|(x, y)| (x - y).abs() < 1e-9));
    let bins = &on_disk.calibration.as_ref().unwrap().states[0].by_role.reliability;
    assert_eq!(bins.iter().map(|b| b.rows).collect::<Vec<_>>(), c.states[0].by_role.reliability.iter().map(|b| b.rows).collect::<Vec<_>>());

    // report.md shows it, bucket by bucket.
    let report = std::fs::read_to_string(Registry::new(dir.path()).version_dir(&a.version).join("report.md")).unwrap();
    let section = &report[report.find("## Calibrated intervals").expect("calibration section")..];
    for bucket in a_table {
        assert!(section.contains(&format!("| {} | {} | **{:.3}** |", bucket.bucket, bucket.rows, bucket.coverage)), "{}", bucket.bucket);
    }
    assert!(section.contains(&format!("ECE over 10 bins **{:.4}**", c.states[0].by_role.ece)));
    let plot = nba_trainer::training_report::RELIABILITY_PLOT;
    assert!(section.contains(&format!("]({plot})")));
    let svg = std::fs::read_to_string(Registry::new(dir.path()).version_dir(&a.version).join(plot)).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(&format!("ECE {:.4}", c.states[0].by_role.ece)), "the legend names each line's ECE");
}
