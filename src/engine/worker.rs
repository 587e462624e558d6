//! The non-realtime side: makes chunks and index nodes ahead of need, frees what the
//! audio thread retired (through `basedrop`), and tells the user what went wrong.
//!
//! Free of plugin-API types; the LV2 glue passes it a [`Reporter`] for the host's log and
//! a `respond` callback for the host's worker.

use basedrop::{Collector, Handle, Shared};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::engine::chunk::{Chunk, MemStats};
use crate::engine::looper::{Delivery, Looper, Request};
use crate::engine::loopfile::Supply;
use crate::engine::tree::Node;

/// How serious a message is (maps onto `log:Error`, `log:Warning`, `log:Note`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Note,
}

/// Where the worker's messages go: the host's log, or nowhere.
pub trait Reporter: Send + Sync {
    /// [worker] Reports `msg`.
    fn report(&self, level: Level, msg: &str);
}

/// A reporter that drops every message (a host without `log:log`).
pub struct Silent;
impl Reporter for Silent {
    /// [worker]
    fn report(&self, _: Level, _: &str) {}
}

/// The worker's state for one plugin instance. Shared with the plugin (which owns it);
/// the audio thread only ever passes a pointer to it in a [`Request`] message.
pub struct WorkerCore {
    collector: Mutex<Option<Collector>>,
    handle: ManuallyDrop<Handle>,
    stats: Arc<MemStats>,
    /// Deliveries the host could not take (its ring was full), sent at the next call.
    unsent: Mutex<Vec<Delivery>>,
    reporter: Box<dyn Reporter>,
    mlock_logged: AtomicBool,
    alloc_failures_logged: AtomicU64,
    dropouts_logged: AtomicU64,
    panics_logged: AtomicU32,
}

impl WorkerCore {
    /// [instantiation] A worker for one instance, reporting through `reporter`.
    pub fn new(stats: Arc<MemStats>, reporter: Box<dyn Reporter>) -> WorkerCore {
        let collector = Collector::new();
        let handle = collector.handle();
        WorkerCore {
            collector: Mutex::new(Some(collector)),
            handle: ManuallyDrop::new(handle),
            stats,
            unsent: Mutex::new(Vec::new()),
            reporter,
            mlock_logged: AtomicBool::new(false),
            alloc_failures_logged: AtomicU64::new(0),
            dropouts_logged: AtomicU64::new(0),
            panics_logged: AtomicU32::new(0),
        }
    }

    /// [worker] The instance's memory counters.
    pub fn stats(&self) -> &Arc<MemStats> {
        &self.stats
    }

    /// [worker] Counts the memory the system refused so far as told (a failed restore
    /// has said so in its own message).
    pub fn failures_told(&self) {
        let failures = self.stats.alloc_failures.load(Ordering::Relaxed);
        self.alloc_failures_logged
            .fetch_max(failures, Ordering::Relaxed);
    }

    /// [worker] Tells the user `msg` through the host's log.
    pub fn tell(&self, level: Level, msg: &str) {
        self.reporter.report(level, msg);
    }

    /// [worker] (or restore) Fresh locked chunks and index nodes, for a loop read from
    /// a file; freed through this core's collector like all the others.
    pub fn supply(&self) -> Maker<'_> {
        Maker(self)
    }

    /// [worker] Frees everything the audio thread has retired so far.
    pub fn collect(&self) {
        if let Some(c) = lock(&self.collector).as_mut() {
            c.collect();
        }
    }

    /// [instantiation] Fills `looper`'s ready pool before its first block.
    pub fn prefill(&self, looper: &mut Looper) {
        let req = looper.poll_request().unwrap_or_default();
        self.work(req, &mut |d| {
            looper.accept(d);
            Ok(())
        });
    }

    /// [worker] Serves one request: frees what was retired, makes what was asked and
    /// hands each item to `respond`, which gives it back if the host cannot take it.
    /// Never panics on a refused allocation: shortfalls are counted, reported and sent.
    pub fn work(&self, req: Request, respond: &mut dyn FnMut(Delivery) -> Result<(), Delivery>) {
        self.collect();
        let mut unsent = lock(&self.unsent);
        let backlog = std::mem::take(&mut *unsent);
        // Every item goes to `respond`; what the host cannot take waits for the next call.
        let mut send = |d: Delivery| {
            if let Err(d) = respond(d) {
                unsent.push(d);
            }
        };
        for d in backlog {
            send(d);
        }
        // Makes `count` items; returns how many the system refused.
        let mut make = |count: u32, item: &dyn Fn() -> Option<Delivery>| {
            let mut short = 0;
            for _ in 0..count {
                match item() {
                    Some(d) => send(d),
                    None => short += 1,
                }
            }
            short
        };
        let chunks = make(req.chunks, &|| {
            Chunk::new(&self.stats).map(|c| Delivery::Chunk(Shared::new(&self.handle, c)))
        });
        let nodes = make(req.nodes, &|| {
            Node::new(&self.stats).map(|n| Delivery::Node(Shared::new(&self.handle, n)))
        });
        if chunks + nodes > 0 {
            send(Delivery::Shortfall { chunks, nodes });
        }
        drop(unsent);
        self.report(&req);
        self.collect();
    }

    /// [worker] Says once that `mlock` was refused, and whenever allocations failed,
    /// samples were dropped or a panic was caught since the last report.
    fn report(&self, req: &Request) {
        let s = &self.stats;
        if s.mlock_failures.load(Ordering::Relaxed) > 0
            && !self.mlock_logged.swap(true, Ordering::Relaxed)
        {
            self.reporter.report(
                Level::Warning,
                "looper: mlock refused (RLIMIT_MEMLOCK too low): loop memory is used unlocked \
                 and may be swapped out. Raise the memlock limit (see the README).\n",
            );
        }
        let failures = s.alloc_failures.load(Ordering::Relaxed);
        if failures > self.alloc_failures_logged.swap(failures, Ordering::Relaxed) {
            self.reporter.report(
                Level::Error,
                &format!("looper: the system refused memory for {failures} chunk(s) so far\n"),
            );
        }
        if req.dropouts > self.dropouts_logged.swap(req.dropouts, Ordering::Relaxed) {
            self.reporter.report(
                Level::Warning,
                &format!(
                    "looper: {} sample(s) could not be recorded (no memory ready in time)\n",
                    req.dropouts
                ),
            );
        }
        if req.panics > self.panics_logged.swap(req.panics, Ordering::Relaxed) {
            self.reporter.report(
                Level::Error,
                &format!("looper: internal error on the audio thread ({} so far); output muted for those blocks\n", req.panics),
            );
        }
    }
}

/// Makes chunks and nodes for [`WorkerCore::supply`].
pub struct Maker<'a>(&'a WorkerCore);

impl Supply for Maker<'_> {
    /// [worker]
    fn chunk(&self) -> Option<Shared<Chunk>> {
        let c = Chunk::new(&self.0.stats)?;
        Some(Shared::new(&self.0.handle, c))
    }
    /// [worker]
    fn node(&self) -> Option<Shared<Node>> {
        let n = Node::new(&self.0.stats)?;
        Some(Shared::new(&self.0.handle, n))
    }
}

impl Drop for WorkerCore {
    /// [instantiation] At the plugin's end, after the engine is dropped: frees whatever
    /// is left. The collector is released only if nothing still refers to it; otherwise it
    /// is leaked rather than freed under a live reference.
    fn drop(&mut self) {
        lock(&self.unsent).clear();
        self.collect();
        // SAFETY: `handle` is not used after this point; Drop runs once.
        unsafe { ManuallyDrop::drop(&mut self.handle) };
        if let Some(c) = lock(&self.collector).take() {
            // On Err something still refers to the collector: it is dropped, which
            // leaks it (basedrop's documented behaviour) rather than freeing it.
            let _ = c.try_cleanup();
        }
    }
}

/// [worker] Locks `m`, recovering from poisoning: a panic elsewhere must not stop the
/// worker from freeing memory.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
