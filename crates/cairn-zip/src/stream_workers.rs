//! The threads that write the streaming extractor's files while its reading thread moves on.
//!
//! The reading thread parses and validates every record in order; creating, inflating and
//! writing each file is handed here as a [`Job`]. Memory stays bounded because the reading
//! thread must [`reserve`](WorkerPool::reserve) the bytes a job holds before reading them, and
//! waits while the jobs not yet finished hold the whole budget. The first failure stops the
//! rest: queued jobs are dropped, and a file being written fails its next write. Every thread
//! is joined before [`finish`](WorkerPool::finish) returns, and on drop, so no file is still
//! being written once the extraction has returned.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::decode::EntryDecoder;
use super::error::UnzipError;
use super::stream_jobs::{Job, JobContext};

/// How the pool is sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    /// Most threads writing files at once.
    pub(crate) threads: usize,
    /// Most bytes the reserved and unfinished jobs may hold in memory.
    pub(crate) budget: u64,
}

/// What a pool observed, for tests of its bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PoolStats {
    /// The most bytes reserved at any one time.
    pub(crate) peak_reserved: u64,
    /// Jobs submitted.
    pub(crate) jobs: u64,
    /// Threads started.
    pub(crate) threads: usize,
}

/// Worker threads writing files, started as work arrives.
pub(crate) struct WorkerPool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    settings: PoolSettings,
    stats: PoolStats,
}

struct Shared {
    context: JobContext,
    /// Set by the first failure (or by the reading thread giving up); checked between entries
    /// and before every write.
    stop: Arc<AtomicBool>,
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes.
    work: Condvar,
    /// Signalled when a job finishes or the pool stops.
    finished: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Bytes reserved by the reading thread and not yet released by a finished job.
    reserved: u64,
    /// Threads waiting for work.
    idle: usize,
    /// Threads started.
    started: usize,
    /// No more jobs will come: threads exit once the queue is empty.
    closed: bool,
    /// The first error a job reported.
    failure: Option<UnzipError>,
    /// Emptied job buffers, reused for the next jobs.
    spare: Vec<Vec<u8>>,
}

/// Spare buffers kept for reuse; more are freed.
const SPARE_BUFFERS: usize = 8;
/// Buffers larger than this (grown for one large entry) are freed rather than kept, so spare
/// buffers never hold more than a few MiB outside the budget.
const SPARE_BUFFER_MAX: usize = 1 << 20;

impl WorkerPool {
    /// A pool writing into `dest` for `archive` (named in errors); starts no thread yet.
    pub(crate) fn new(archive: &str, dest: &Path, settings: PoolSettings) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        Self {
            shared: Arc::new(Shared {
                context: JobContext::new(archive, dest, Arc::clone(&stop)),
                stop,
                state: Mutex::default(),
                work: Condvar::new(),
                finished: Condvar::new(),
            }),
            threads: Vec::new(),
            settings: PoolSettings {
                threads: settings.threads.max(1),
                ..settings
            },
            stats: PoolStats::default(),
        }
    }

    /// True once a job failed or [`stop`](Self::stop) was called: the reading thread should
    /// give up, since its own result will not be reported.
    pub(crate) fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Stops the work: queued jobs are dropped and running ones fail their next write.
    pub(crate) fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut state = self.shared.lock();
        state.queue.clear();
        drop(state);
        self.shared.finished.notify_all();
    }

    /// Reserves `bytes` of the budget if that fits without waiting; with nothing reserved, any
    /// amount fits, so an entry larger than the budget still goes through, alone.
    pub(crate) fn try_reserve(&mut self, bytes: u64) -> bool {
        let mut state = self.shared.lock();
        let fits = state.reserved == 0 || state.reserved + bytes <= self.settings.budget;
        if fits {
            state.reserved += bytes;
            self.stats.peak_reserved = self.stats.peak_reserved.max(state.reserved);
        }
        fits
    }

    /// Waits until `bytes` fit in the budget, then reserves them. Everything reserved must have
    /// been submitted first, or this could wait for ever. Returns false if the pool stopped.
    pub(crate) fn reserve(&mut self, bytes: u64) -> bool {
        let mut state = self.shared.lock();
        loop {
            if self.stopped() {
                return false;
            }
            if state.reserved == 0 || state.reserved + bytes <= self.settings.budget {
                state.reserved += bytes;
                self.stats.peak_reserved = self.stats.peak_reserved.max(state.reserved);
                return true;
            }
            state = self
                .shared
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// An empty buffer for the next job, reusing one a finished job gave back.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        self.shared.lock().spare.pop().unwrap_or_default()
    }

    /// Queues a job (whose memory was reserved), starting a thread if none is free. Piped jobs
    /// go before the batches of small files.
    pub(crate) fn submit(&mut self, job: Job) -> Result<(), UnzipError> {
        let mut state = self.shared.lock();
        if self.stopped() {
            // The job is dropped: its result would not be reported anyway.
            state.reserved = state.reserved.saturating_sub(job.memory());
            return Ok(());
        }
        if job.is_piped() {
            // A large entry's inflate is usually the longest task of the archive: it goes ahead
            // of the small files queued before it (behind other large entries), so that it
            // overlaps the download and does not start after everything else.
            let position = state
                .queue
                .iter()
                .take_while(|queued| queued.is_piped())
                .count();
            state.queue.insert(position, job);
        } else {
            state.queue.push_back(job);
        }
        self.stats.jobs += 1;
        let start_thread =
            state.queue.len() > state.idle && self.threads.len() < self.settings.threads;
        drop(state);
        self.shared.work.notify_one();
        if start_thread {
            self.start_thread()?;
        }
        Ok(())
    }

    /// Runs `job` on the calling thread, as the only job of a small archive: starting a thread
    /// would cost more than it could save.
    pub(crate) fn run_here(
        &mut self,
        job: Job,
        decoder: &mut EntryDecoder,
    ) -> Result<(), UnzipError> {
        let memory = job.memory();
        self.stats.jobs += 1;
        let (result, buffer) = job.run(&self.shared.context, decoder);
        let mut state = self.shared.lock();
        state.reserved = state.reserved.saturating_sub(memory);
        state.give_back(buffer);
        result
    }

    /// A test for a pipe's writer to make later: whether a worker is free (waiting for work, or
    /// not started yet) to take what the reading thread would reach by reading on.
    pub(crate) fn free_worker_probe(&self) -> impl Fn() -> bool + Send + 'static {
        let shared = Arc::clone(&self.shared);
        let most = self.settings.threads;
        move || {
            let state = shared.lock();
            state.idle > 0 || state.started < most
        }
    }

    /// Whether a thread was started.
    pub(crate) fn has_threads(&self) -> bool {
        !self.threads.is_empty()
    }

    fn start_thread(&mut self) -> Result<(), UnzipError> {
        let shared = Arc::clone(&self.shared);
        let started = std::thread::Builder::new()
            .name("cairn-unzip".to_owned())
            .spawn(move || shared.work());
        match started {
            Ok(handle) => {
                self.shared.lock().started += 1;
                self.threads.push(handle);
                Ok(())
            }
            // Fewer threads only make it slower; with none the job would never run.
            Err(_) if !self.threads.is_empty() => Ok(()),
            Err(error) => Err(UnzipError::Worker {
                archive: self.shared.context.archive().to_owned(),
                detail: format!("cannot start a thread to write files: {error}"),
            }),
        }
    }

    /// Waits for every queued job to finish and every thread to exit; returns the first error
    /// a job reported. Call it on success and on error alike.
    pub(crate) fn finish(&mut self) -> Result<(), UnzipError> {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        let mut panicked = false;
        for handle in self.threads.drain(..) {
            panicked |= handle.join().is_err();
        }
        match self.shared.lock().failure.take() {
            Some(failure) => Err(failure),
            None if panicked => Err(self.shared.panicked()),
            None => Ok(()),
        }
    }

    /// What the pool observed so far.
    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            threads: self.shared.lock().started,
            ..self.stats
        }
    }
}

impl Drop for WorkerPool {
    /// Joins the threads if [`finish`](Self::finish) was not called (an early return), so none
    /// outlives the extraction.
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop();
            let _ = self.finish();
        }
    }
}

impl State {
    /// Keeps an emptied job buffer for reuse, unless enough are kept or it is too large.
    fn give_back(&mut self, buffer: Option<Vec<u8>>) {
        if let Some(buffer) = buffer
            && buffer.capacity() <= SPARE_BUFFER_MAX
            && self.spare.len() < SPARE_BUFFERS
        {
            self.spare.push(buffer);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking job never holds the lock, and the state stays consistent between
        // statements, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn panicked(&self) -> UnzipError {
        UnzipError::Worker {
            archive: self.context.archive().to_owned(),
            detail: "a thread writing files panicked".to_owned(),
        }
    }

    /// One thread's life: run jobs until the pool closes.
    fn work(&self) {
        let mut decoder = EntryDecoder::new();
        while let Some(job) = self.next_job() {
            let memory = job.memory();
            // A panic must still release the job's memory and stop the others, or the reading
            // thread could wait for ever for room in the budget.
            let ran =
                panic::catch_unwind(AssertUnwindSafe(|| job.run(&self.context, &mut decoder)));
            let (result, buffer) = ran.unwrap_or_else(|_| {
                decoder = EntryDecoder::new();
                (Err(self.panicked()), None)
            });
            let mut state = self.lock();
            state.reserved = state.reserved.saturating_sub(memory);
            state.give_back(buffer);
            if let Err(error) = result
                && !self.stop.load(Ordering::Relaxed)
            {
                // The first error wins; later ones are usually caused by the stop itself.
                state.failure = Some(error);
                self.stop.store(true, Ordering::Relaxed);
                state.queue.clear();
            }
            drop(state);
            self.finished.notify_all();
        }
    }

    /// The next job, waiting for one; `None` once the pool is closed and drained, or stopped.
    fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                state.queue.clear();
                return None;
            }
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}
