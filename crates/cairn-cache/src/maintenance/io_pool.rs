//! The threads maintenance walks run on.
//!
//! A walk of a cache that is not in memory waits on the disk for every directory block and
//! inode it reads, so it runs on many more threads than there are cores: each one keeps a read
//! in flight. More threads than reads the disk can overlap gain nothing, and when the cache is
//! already in memory the extra threads cost little (`docs/benchmarks.md` has the measurement
//! behind [`IO_THREADS`]). The pool lives for one call, so a library that measures its cache
//! now and then keeps no idle threads.

use std::num::NonZeroUsize;

/// Threads of the pool, unless the machine has more cores.
const IO_THREADS: usize = 32;

/// Runs `work` on a pool of [`IO_THREADS`] threads, where its `rayon` calls fan out; on the
/// calling thread's pool if no thread can be started.
pub(crate) fn run<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(IO_THREADS.max(cores))
        .thread_name(|index| format!("cairn-walk-{index}"))
        .build();
    match pool {
        Ok(pool) => pool.install(work),
        Err(error) => {
            tracing::debug!(%error, "walking on the current threads");
            work()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_fans_out_over_the_pool() {
        let (threads, name) = run(|| {
            let name = rayon::scope(|_| std::thread::current().name().map(str::to_owned));
            (rayon::current_num_threads(), name)
        });
        assert!(threads >= IO_THREADS, "{threads} threads");
        assert!(name.is_some_and(|name| name.starts_with("cairn-walk-")));
    }
}
