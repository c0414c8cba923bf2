//! Keep CPUs awake (`--keep-cpus-awake N`): an opt-in low-latency mode, off by default.
//!
//! **What it is for.** On a virtual machine an idle vCPU halts, and waking it again (an
//! interrupt through the hypervisor) costs tens of microseconds. A single call hands off
//! between threads several times (the I/O driver wakes a runtime worker, the answer wakes
//! the client), so at concurrency 1 those wake-ups, not the server's work, dominate the
//! latency: measured on a 2-vCPU VM, `Predict` p50 130-195 us with idle vCPUs against
//! 65 us with busy loops running beside the server (see docs/benchmarks.md). Low-latency servers solve
//! this by busy-polling; this module does the same without adding work to the request path.
//!
//! **How.** [`KeepAwake`] owns `N` OS threads. Each lowers itself to Linux's `SCHED_IDLE`
//! policy (it runs only when a CPU would otherwise idle, and any real thread preempts it
//! at once; elsewhere, or when not permitted, the lowest priority the OS gives, with one
//! warning), then spins (`std::hint::spin_loop`) while the latest request is less than
//! `window` old, and parks once it is older. Every gRPC call runs [`CallSignal::note_call`]
//! (through the [`SignalingInterceptor`] interceptor): one atomic store, one atomic load, and only
//! when the threads sleep, an unpark of each. No allocation, no clock read, no lock.
//!
//! **The trade-off.** While requests keep arriving within the window, the spinning
//! threads keep otherwise idle CPUs 100 % busy: more power, and, under a Kubernetes CPU
//! limit (CFS quota), the spinning counts against the quota like any other CPU time and
//! can get the whole pod throttled, which is far worse than a wake-up. Use it only with
//! guaranteed/exclusive CPUs or without a CPU limit, for latency-sensitive traffic at low
//! concurrency; under heavy load the CPUs are busy anyway and it changes nothing. A
//! long-running stream (Flight `DoExchange`) counts as one call, when it starts.
//!
//! Shutdown sets a stop flag, unparks and **joins** every thread (also on drop): the
//! threads react within one spin burst (microseconds), and joining guarantees that no
//! spinning thread outlives the server that started it (tests and benchmarks start many
//! servers in one process; a detached spinner would burn CPU until the process exits).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// `spin_loop` hints between two looks at the clock and the flags (a few microseconds).
const SPIN_BURST: u32 = 256;
/// Longest park of a sleeping thread before it looks again (a noted call unparks it sooner).
const PARK_TIMEOUT: Duration = Duration::from_millis(100);

/// The background threads that keep CPUs from idling while requests arrive. Dropping it
/// stops and joins them.
pub struct KeepAwake {
    inner: Option<Arc<SpinState>>,
    threads: Vec<JoinHandle<()>>,
    policy: &'static str,
}

/// The request path's cheap handle: [`CallSignal::note_call`] on every call. A default one
/// (feature off) does nothing.
#[derive(Clone, Default)]
pub struct CallSignal(Option<Arc<SpinState>>);

struct SpinState {
    epoch: Instant,
    window_us: u64,
    /// Set by every request, cleared by the thread that notes it in `last_seen_us`.
    call_noted: AtomicBool,
    /// Microseconds since `epoch` when a thread last saw `call_noted` set.
    last_seen_us: AtomicU64,
    stop: AtomicBool,
    spinning: AtomicUsize,
    sleeping: AtomicUsize,
    running: AtomicUsize,
    wakeups: AtomicU64,
    threads: OnceLock<Box<[Thread]>>,
}

impl KeepAwake {
    /// Starts `threads` spinning threads (0: the feature is off, nothing starts). Never
    /// fails: a thread that cannot be started or lowered is logged and the rest go on.
    pub fn start(threads: usize, window: Duration) -> KeepAwake {
        if threads == 0 {
            return KeepAwake { inner: None, threads: Vec::new(), policy: "off" };
        }
        let inner = Arc::new(SpinState {
            epoch: Instant::now(),
            window_us: u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1),
            call_noted: AtomicBool::new(false),
            last_seen_us: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            spinning: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            wakeups: AtomicU64::new(0),
            threads: OnceLock::new(),
        });
        let (tx, rx) = std::sync::mpsc::channel::<Lowered>();
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let (mine, tx) = (inner.clone(), tx.clone());
            let spawned = std::thread::Builder::new().name(format!("nba-keep-awake-{i}")).spawn(move || {
                // Counted before reporting: `start` returns after every report.
                mine.running.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(lower_priority());
                drop(tx);
                mine.run();
                mine.running.fetch_sub(1, Ordering::SeqCst);
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    tracing::warn!(error = %e, started = i, "keep-cpus-awake: could not start a thread; going on with fewer");
                    break;
                }
            }
        }
        drop(tx);
        // Before any CallSignal exists: a noted call always finds the threads to unpark.
        let _ = inner.threads.set(handles.iter().map(|h| h.thread().clone()).collect());
        // Each thread reports how it lowered itself (microseconds after it starts).
        let mut policy = "SCHED_IDLE";
        let mut warned = false;
        for l in rx.iter() {
            if let Some(error) = l.idle_error {
                policy = l.policy;
                if !warned {
                    warned = true;
                    tracing::warn!(error = %error, fallback = l.policy, "keep-cpus-awake: SCHED_IDLE not available; the spinning threads run at the fallback priority");
                }
            }
        }
        KeepAwake { inner: Some(inner), threads: handles, policy }
    }

    /// The handle the request path notes its calls on.
    pub fn call_signal(&self) -> CallSignal {
        CallSignal(self.inner.clone())
    }

    /// Threads started (0 when off).
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// How the threads are scheduled: `SCHED_IDLE`, a fallback, or `off`.
    pub fn policy(&self) -> &'static str {
        self.policy
    }

    /// Threads spinning now.
    pub fn spinning(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.spinning.load(Ordering::SeqCst))
    }

    /// Threads parked (or about to park) now.
    pub fn sleeping(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.sleeping.load(Ordering::SeqCst))
    }

    /// Threads alive (started and not yet returned).
    pub fn running(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.running.load(Ordering::SeqCst))
    }

    /// Times a thread went from sleeping back to spinning because requests arrived.
    pub fn wakeups(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.wakeups.load(Ordering::Relaxed))
    }

    /// Stops and joins every thread; returns how many were joined. Idempotent.
    pub fn stop(&mut self) -> usize {
        if let Some(inner) = &self.inner {
            inner.stop.store(true, Ordering::SeqCst);
            inner.wake();
        }
        let n = self.threads.len();
        for h in self.threads.drain(..) {
            if h.join().is_err() {
                tracing::warn!("keep-cpus-awake: a thread panicked");
            }
        }
        n
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        self.stop();
    }
}

impl CallSignal {
    /// Notes a request. Steady state: one store and one load (sequentially consistent, so
    /// that a thread going to sleep and this call cannot miss each other: the thread
    /// announces it sleeps, then looks at `call_noted`; this sets `call_noted`, then looks at
    /// the sleepers). Unparks the threads only when some sleep.
    #[inline]
    pub fn note_call(&self) {
        if let Some(i) = &self.0 {
            i.call_noted.store(true, Ordering::SeqCst);
            if i.sleeping.load(Ordering::SeqCst) != 0 {
                i.wake();
            }
        }
    }
}

/// A tonic interceptor that notes the call on the keep-awake threads' signal, then runs the inner interceptor (the
/// bearer-token check): every call of the services it wraps passes through it.
#[derive(Clone)]
pub struct SignalingInterceptor<I> {
    signal: CallSignal,
    inner: I,
}

impl<I> SignalingInterceptor<I> {
    pub fn new(signal: CallSignal, inner: I) -> Self {
        SignalingInterceptor { signal, inner }
    }
}

impl<I: tonic::service::Interceptor> tonic::service::Interceptor for SignalingInterceptor<I> {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        self.signal.note_call();
        self.inner.call(req)
    }
}

impl SpinState {
    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn wake(&self) {
        if let Some(threads) = self.threads.get() {
            for t in threads.iter() {
                t.unpark();
            }
        }
    }

    /// Whether a request arrived within the window (notes a pending call first).
    fn busy(&self) -> bool {
        let now = self.now_us();
        if self.call_noted.load(Ordering::SeqCst) {
            // The time first, then the flag cleared: a thread that reads the cleared flag
            // (acquire) also reads this time, so it cannot go to sleep on a stale one.
            self.last_seen_us.fetch_max(now, Ordering::Relaxed);
            self.call_noted.store(false, Ordering::SeqCst);
            return true;
        }
        now.saturating_sub(self.last_seen_us.load(Ordering::Relaxed)) < self.window_us
    }

    fn run(&self) {
        let wakeups = metrics::counter!("nba_keep_awake_wakeups_total");
        loop {
            // Spin while requests keep arriving.
            self.spinning.fetch_add(1, Ordering::SeqCst);
            let stopped = loop {
                for _ in 0..SPIN_BURST {
                    std::hint::spin_loop();
                }
                if self.stop.load(Ordering::Relaxed) {
                    break true;
                }
                if !self.busy() {
                    break false;
                }
            };
            self.spinning.fetch_sub(1, Ordering::SeqCst);
            if stopped {
                return;
            }
            // Idle longer than the window: announce the sleep, then look again before
            // each park, so a call noted in between is never lost.
            self.sleeping.fetch_add(1, Ordering::SeqCst);
            let woke = loop {
                if self.stop.load(Ordering::SeqCst) {
                    break false;
                }
                if self.busy() {
                    break true;
                }
                std::thread::park_timeout(PARK_TIMEOUT);
            };
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            if !woke {
                return;
            }
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            wakeups.increment(1);
        }
    }
}

/// How a spinning thread was lowered.
struct Lowered {
    policy: &'static str,
    /// Why SCHED_IDLE could not be set (None: it was).
    idle_error: Option<String>,
}

/// Puts the calling thread under SCHED_IDLE, or failing that at the lowest priority the
/// OS allows (nice 19 on Linux).
fn lower_priority() -> Lowered {
    use thread_priority::ThreadPriority;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let idle_error = {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id, thread_schedule_policy};
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let r = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle);
        // The crate sets the policy, then the nice value (unused under SCHED_IDLE); the
        // second step may fail after the first worked (a process started with a positive
        // nice may not lower it). The policy is what counts.
        if r.is_ok() || thread_schedule_policy().is_ok_and(|p| p == idle) {
            return Lowered { policy: "SCHED_IDLE", idle_error: None };
        }
        r.err().map_or_else(|| "unknown error".to_string(), |e| e.to_string())
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let idle_error = "SCHED_IDLE exists only on Linux".to_string();
    match ThreadPriority::Min.set_for_current() {
        Ok(()) => Lowered { policy: "lowest priority", idle_error: Some(idle_error) },
        Err(e) => Lowered { policy: "normal priority", idle_error: Some(format!("{idle_error}; lowest priority: {e}")) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` for up to 30 s (generous: SCHED_IDLE threads run only when a CPU is free,
    /// and tests run in parallel).
    fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("not within 30 s: {what}");
    }

    #[test]
    fn keep_awake_threads_spin_after_a_call_and_sleep_after_the_window() {
        let mut w = KeepAwake::start(2, Duration::from_millis(20));
        assert_eq!(w.threads(), 2);
        assert_eq!(w.running(), 2);
        // No request yet: both go to sleep once the first window has passed.
        eventually("both threads asleep", || w.sleeping() == 2 && w.spinning() == 0);
        let t = w.call_signal();
        let before = w.wakeups();
        t.note_call();
        eventually("a thread spinning after a call", || w.spinning() >= 1);
        // Requests keep arriving (a thread starved of CPU longer than the window may miss
        // one call and sleep again; the next one wakes it).
        eventually("both threads spinning", || {
            t.note_call();
            w.spinning() == 2
        });
        assert!(w.wakeups() >= before + 2, "each thread counted its wake-up: {}", w.wakeups());
        // Calls keep them spinning; then the window passes without one.
        for _ in 0..20 {
            t.note_call();
            std::thread::sleep(Duration::from_millis(1));
        }
        eventually("both threads asleep again", || w.sleeping() == 2 && w.spinning() == 0);
        assert_eq!(w.stop(), 2);
    }

    #[test]
    fn keep_awake_stop_joins_every_thread() {
        let mut w = KeepAwake::start(3, Duration::from_secs(10));
        w.call_signal().note_call();
        eventually("spinning", || w.spinning() == 3);
        let inner = w.inner.clone().unwrap();
        assert_eq!(w.stop(), 3);
        assert_eq!(w.running(), 0, "every thread returned");
        assert_eq!((w.spinning(), w.sleeping(), w.threads()), (0, 0, 0));
        assert_eq!(w.stop(), 0, "stop is idempotent");
        // A call noted after stop wakes nobody and does not panic.
        w.call_signal().note_call();
        drop(w);
        assert_eq!(Arc::strong_count(&inner), 1, "no thread holds the state any more");
    }

    #[test]
    fn keep_awake_stop_reaches_sleeping_threads_and_drop_stops() {
        let w = KeepAwake::start(2, Duration::from_millis(1));
        eventually("asleep", || w.sleeping() == 2);
        let inner = w.inner.clone().unwrap();
        drop(w);
        assert_eq!(inner.running.load(Ordering::SeqCst), 0, "drop joined the sleeping threads");
    }

    #[test]
    fn keep_awake_disabled_starts_nothing() {
        let mut w = KeepAwake::start(0, Duration::from_millis(2));
        assert_eq!((w.threads(), w.running(), w.spinning(), w.sleeping()), (0, 0, 0, 0));
        assert_eq!(w.policy(), "off");
        w.call_signal().note_call();
        CallSignal::default().note_call();
        assert_eq!(w.stop(), 0);
    }

    #[test]
    fn keep_awake_threads_report_their_policy() {
        let w = KeepAwake::start(1, Duration::from_millis(2));
        assert!(["SCHED_IDLE", "lowest priority", "normal priority"].contains(&w.policy()), "{}", w.policy());
    }

    #[test]
    fn keep_awake_interceptor_notes_the_call_then_runs_the_inner_check() {
        use tonic::service::Interceptor;
        let w = KeepAwake::start(1, Duration::from_millis(20));
        eventually("asleep", || w.sleeping() == 1);
        let refuse = |_: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> { Err(tonic::Status::unauthenticated("no")) };
        let mut gate = SignalingInterceptor::new(w.call_signal(), refuse);
        assert!(gate.call(tonic::Request::new(())).is_err(), "the inner interceptor still decides");
        eventually("the refused call still woke the thread", || w.spinning() == 1);
    }
}
