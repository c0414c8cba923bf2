//! Scoring speed of a 300-tree depth-6 ensemble of 65 features (about the feature
//! contract's width; fixed, so that figures stay comparable across contract versions)
//! through the registered tract op: one row per call (latency) and large batches
//! (throughput), plus the in-memory forest for reference.
//!
//! `cargo bench -p nba-model --bench scoring` (a plain timing harness: no criterion, so
//! nothing extra to build). Figures go to docs/benchmarks.md; never asserted in tests.

use nba_model::onnx::{OnnxModel, to_onnx_bytes};
use nba_model::{Forest, Mode, Node};
use std::hint::black_box;
use std::time::Instant;

const FEATURES: usize = 65;
const TREES: usize = 300;
const DEPTH: u32 = 6;

/// A deterministic full binary forest: every tree has 63 splits and 64 leaves, random
/// features and thresholds in [0, 1), missing values both ways.
fn forest() -> Forest {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut f = Forest { n_features: FEATURES, base: 10.0, nodes: vec![], roots: vec![] };
    let inner = (1u32 << DEPTH) - 1;
    for _ in 0..TREES {
        let start = f.nodes.len() as u32;
        f.roots.push(start);
        for i in 0..(2 * inner + 1) {
            f.nodes.push(if i < inner {
                Node {
                    feature: (rnd() % FEATURES as u64) as u32,
                    threshold: (rnd() % 1000) as f32 / 1000.0,
                    branch: Some(Mode::Lt),
                    if_true: start + 2 * i + 1,
                    if_false: start + 2 * i + 2,
                    missing_true: rnd() % 2 == 0,
                    value: 0.0,
                }
            } else {
                Node::leaf((rnd() % 100) as f32 / 100.0 - 0.5)
            });
        }
    }
    f
}

/// `n` rows in [0, 1), one value in `nan_one_in` missing. 1 in 2,000 values leaves about
/// 3% of the rows with a NaN, as in the 2024 test rows; 1 in 20 puts one in every row.
fn rows(n: usize, nan_one_in: u64) -> Vec<f32> {
    let mut s = 1u64;
    (0..n * FEATURES)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (s >> 40).is_multiple_of(nan_one_in) { f32::NAN } else { ((s >> 33) % 1000) as f32 / 1000.0 }
        })
        .collect()
}

/// This thread's time on a CPU so far (ns, from /proc/thread-self/schedstat; 0 where
/// unavailable): on a shared machine it leaves out the time other processes ran.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (f, model, x) = bench_inputs();
    let scorer = nba_model::Scorer::new(f.clone()).expect("scorer");
    let scalar = nba_model::Scorer::scalar(f.clone()).expect("scorer");
    single_row_latency(&f, &model, &scorer, &x);
    tract_batch_throughput(&model, &x);
    let nan_rows = rows(10_000, 20);
    for s in [&scorer, &scalar] {
        kernel_throughput(s, &x, &nan_rows);
    }
    small_batches(&scorer, &scalar, &x);
    column_throughput(&scorer, &x, &nan_rows);
}

/// The forest, its tract model and 100,000 rows to score: a synthetic ensemble and rows,
/// or a trained model and exported rows.
fn bench_inputs() -> (Forest, OnnxModel, Vec<f32>) {
    // NBA_BENCH_MODEL=<version>/model.onnx scores a trained model instead of the synthetic
    // one, on NBA_BENCH_ROWS (the `<part>_x.f32` of `nba-trainer export-rows`) if given.
    let (f, bytes) = match std::env::var("NBA_BENCH_MODEL") {
        Ok(path) => {
            let bytes = std::fs::read(&path).expect("model file");
            (nba_model::onnx::forest_from_bytes(&bytes, FEATURES).expect("model"), bytes)
        }
        Err(_) => {
            let f = forest();
            let bytes = to_onnx_bytes(&f, "bench").expect("export");
            (f, bytes)
        }
    };
    f.validate().expect("valid forest");
    let model = OnnxModel::load(&bytes, FEATURES).expect("load");
    let x: Vec<f32> = match std::env::var("NBA_BENCH_ROWS") {
        Ok(path) => {
            let raw = std::fs::read(&path).expect("rows file");
            let v: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            v.iter().copied().cycle().take(100_000 * FEATURES).collect()
        }
        Err(_) => rows(100_000, 2000),
    };
    println!("trees: {}, nodes: {}", f.n_trees(), f.nodes.len());
    println!("ensemble: {TREES} trees, depth {DEPTH}, {FEATURES} features; threads available: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));

    (f, model, x)
}

/// One row per call through tract, the scorer and the node walk.
fn single_row_latency(f: &Forest, model: &OnnxModel, scorer: &nba_model::Scorer, x: &[f32]) {
    // Latency: one row per call, distinct rows, median of 7 runs of 20k calls: wall time,
    // and this thread's on-CPU time (the figure to trust on a busy machine).
    let single = |score: &dyn Fn(&[f32]) -> f32| {
        let runs: Vec<(f64, f64)> = (0..7)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_ns());
                for i in 0..20_000 {
                    black_box(score(&x[(i % 100_000) * FEATURES..][..FEATURES]));
                }
                (t.elapsed().as_secs_f64() / 20_000.0 * 1e6, (cpu_ns() - c) as f64 / 20_000.0 / 1e3)
            })
            .collect();
        (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()))
    };
    let tract_us = single(&|r| model.predict(r).expect("predict")[0]);
    let forest_us = single(&|r| f.predict_row(r).expect("predict"));
    let scorer_us = single(&|r| scorer.predict_row(r).expect("predict"));
    println!("kernel for batches: {:?}", scorer.kernel());
    for (name, (wall, cpu)) in [("tract op (OnnxModel::predict)", tract_us), ("Scorer::predict_row", scorer_us), ("Forest::predict_row (node walk)", forest_us)]
    {
        println!("single row, {name:<32} {wall:6.2} us/row wall, {cpu:6.2} us/row on CPU");
    }
}

/// Batches through tract.
fn tract_batch_throughput(model: &OnnxModel, x: &[f32]) {
    // Throughput: batches through tract; median of 5 runs over all 100k rows.
    for batch in [1_000usize, 10_000, 100_000] {
        let rate = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    for c in x.chunks(batch * FEATURES) {
                        black_box(model.predict(c).expect("predict"));
                    }
                    100_000.0 / t.elapsed().as_secs_f64()
                })
                .collect(),
        );
        println!("batch {batch:>6}, tract op: {:.2} M rows/s", rate / 1e6);
    }
}

/// One batch kernel on 10,000-row batches, one thread and all threads, and with a NaN in
/// every row.
fn kernel_throughput(scorer: &nba_model::Scorer, x: &[f32], nan_rows: &[f32]) {
    // The kernels without tract's tensors: the one `Scorer::new` picks on this CPU, and
    // the portable scalar one (main calls this for each).
    let kernel = format!("{:?}", scorer.kernel());
    let mut out = vec![0.0f32; 10_000];
    let rate = |par: bool, out: &mut Vec<f32>| {
        let runs: Vec<(f64, f64)> = (0..5)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_ns());
                for c in x.chunks(10_000 * FEATURES) {
                    if par {
                        scorer.predict_batch_into(c, &mut out[..c.len() / FEATURES]).expect("predict");
                    } else {
                        // Blocks under the parallel threshold stay on this thread.
                        for b in c.chunks((nba_model::scorer::PARALLEL_MIN_ROWS - 1) * FEATURES) {
                            scorer.predict_batch_into(b, &mut out[..b.len() / FEATURES]).expect("predict");
                        }
                    }
                    black_box(&out);
                }
                (100_000.0 / t.elapsed().as_secs_f64(), 100_000.0 / ((cpu_ns() - c) as f64 / 1e9))
            })
            .collect();
        (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()))
    };
    let (wall, cpu) = rate(false, &mut out);
    println!("batch  10000, {kernel:<7} kernel, one thread: {:.2} M rows/s wall, {:.2} M rows/s per CPU-second", wall / 1e6, cpu / 1e6);
    let (wall, _) = rate(true, &mut out);
    println!("batch  10000, {kernel:<7} kernel, rayon:      {:.2} M rows/s wall", wall / 1e6);
    // Worst case: a NaN in every row (the slower path at every split).
    let t = Instant::now();
    for _ in 0..10 {
        scorer.predict_batch_into(nan_rows, &mut out).expect("predict");
        black_box(&out);
    }
    println!("batch  10000, {kernel:<7} kernel, rayon, NaN in every row: {:.2} M rows/s wall", 100_000.0 / t.elapsed().as_secs_f64() / 1e6);
}

/// Batches of a few rows, where the vector kernel starts to pay.
fn small_batches(scorer: &nba_model::Scorer, scalar: &nba_model::Scorer, x: &[f32]) {
    // Small batches (a V2 ModelInfer of a few rows): where the vector kernel starts to pay.
    for n in [1usize, 2, 4, 8, 12, 16, 32] {
        let per_batch = |s: &nba_model::Scorer| {
            let mut out = vec![0.0f32; n];
            let reps = 20_000 / n;
            let t = Instant::now();
            for k in 0..reps {
                let at = (k * n) % (100_000 - n);
                s.predict_batch_into(&x[at * FEATURES..(at + n) * FEATURES], &mut out).expect("predict");
                black_box(&out);
            }
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        };
        println!(
            "batch {n:>6}, Scorer::new {:.1} us per batch (the vector kernel from 10 rows), Scorer::scalar {:.1} us",
            per_batch(scorer),
            per_batch(scalar)
        );
    }
}

/// The same rows as Arrow-style columns.
fn column_throughput(scorer: &nba_model::Scorer, x: &[f32], nan_rows: &[f32]) {
    // The same rows as columns (an Arrow batch's layout, as Flight's DoExchange scores
    // them): ten batches of 10,000 rows, each FEATURES columns.
    let columns = |x: &[f32]| -> Vec<Vec<Vec<f32>>> {
        x.chunks(10_000 * FEATURES).map(|b| (0..FEATURES).map(|j| b.iter().skip(j).step_by(FEATURES).copied().collect()).collect()).collect()
    };
    let (batches, nan_batch) = (columns(x), columns(nan_rows));
    let mut out = vec![0.0f32; 10_000];
    let rate = |batches: &[Vec<Vec<f32>>], rows: usize, out: &mut Vec<f32>| -> (f64, f64) {
        let runs: Vec<(f64, f64)> = (0..5)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_ns());
                for b in batches {
                    for first in (0..10_000).step_by(rows) {
                        // Blocks under the parallel threshold stay on this thread.
                        let cols: Vec<&[f32]> = b.iter().map(|c| &c[first..first + rows]).collect();
                        scorer.predict_columns_into(&cols, &mut out[..rows]).expect("predict");
                    }
                    black_box(&out);
                }
                (batches.len() as f64 * 10_000.0 / t.elapsed().as_secs_f64(), batches.len() as f64 * 10_000.0 / ((cpu_ns() - c) as f64 / 1e9))
            })
            .collect();
        (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()))
    };
    let kernel = format!("{:?}", scorer.kernel());
    let (wall, cpu) = rate(&batches, 1000, &mut out);
    println!("batch  10000, {kernel:<7} kernel, columns, one thread: {:.2} M rows/s wall, {:.2} M rows/s per CPU-second", wall / 1e6, cpu / 1e6);
    let (wall, _) = rate(&batches, 10_000, &mut out);
    println!("batch  10000, {kernel:<7} kernel, columns, rayon:      {:.2} M rows/s wall", wall / 1e6);
    let (wall, _) = rate(&nan_batch, 10_000, &mut out);
    println!("batch  10000, {kernel:<7} kernel, columns, rayon, NaN in every row: {:.2} M rows/s wall", wall / 1e6);
}
