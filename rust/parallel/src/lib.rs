//! The rayon thread pool shared by every batched native call.
//!
//! rayon's global pool does not survive `fork` (the child inherits a pool whose threads do not exist), and
//! PyTorch DataLoader workers are forked. So the pool is created lazily per process: if the process id
//! changed since the pool was built, a fresh pool is built for the child. Its size is
//! `RAYON_NUM_THREADS` when set, else the number of available cores.

use std::sync::{Arc, Mutex, OnceLock};

struct PoolForProcess {
    pid: u32,
    pool: Arc<rayon::ThreadPool>,
}

static POOL: OnceLock<Mutex<Option<PoolForProcess>>> = OnceLock::new();

/// Number of threads the pool uses in this process.
pub fn num_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The pool for the current process (built on first use, rebuilt after a fork).
pub fn pool() -> Arc<rayon::ThreadPool> {
    let cell = POOL.get_or_init(|| Mutex::new(None));
    // A poisoned lock only means another thread panicked while holding it; the Option is still sound.
    let mut guard = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    match guard.as_ref() {
        Some(entry) if entry.pid == pid => Arc::clone(&entry.pool),
        _ => {
            let pool = Arc::new(build_pool(num_threads()));
            *guard = Some(PoolForProcess {
                pid,
                pool: Arc::clone(&pool),
            });
            pool
        }
    }
}

fn build_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tulu-native-{i}"))
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
        .expect("a one-thread rayon pool can always be built")
}

/// Run `f` inside the process's pool (so `par_iter` in `f` uses it).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn pool_runs_parallel_work() {
        let total: u64 = install(|| (1..=1000u64).into_par_iter().sum());
        assert_eq!(total, 500_500);
    }

    #[test]
    fn same_pool_within_a_process() {
        assert!(Arc::ptr_eq(&pool(), &pool()));
    }
}
