//! Answers computed once and shared for a short while (`--cache-ttl`): a
//! dashboard or 32 clients asking the same question cost one store read,
//! and concurrent askers wait for the one computation rather than each
//! starting their own. An answer older than the TTL is still given while
//! one refresh runs in the background, so no caller waits for a
//! recomputation of a question already answered. Every event this server
//! records ages every entry at once: the next answer starts a refresh and
//! the one after it shows the event. Events written by others (CI jobs
//! writing to the same store) show after the TTL and one computation. A
//! refresh that fails drops the aged answer: while the store is down,
//! answers are errors, not the last numbers over and over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

struct Entry<T> {
    made: Instant,
    generation: u64,
    value: OnceCell<Arc<T>>,
    /// A background refresh of this (aged) entry is running.
    refreshing: AtomicBool,
}

impl<T> Entry<T> {
    fn new(generation: u64) -> Entry<T> {
        Entry {
            made: Instant::now(),
            generation,
            value: OnceCell::new(),
            refreshing: AtomicBool::new(false),
        }
    }
}

pub struct Cache<T> {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Arc<Entry<T>>>>,
}

impl<T> Cache<T> {
    pub fn new(ttl: Duration) -> Cache<T> {
        Cache {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Everything cached so far is stale: an event was recorded.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The value under `key`, computed by `make` when there is none fresh.
    /// An error is not kept: the next asker tries again.
    pub async fn get<E, F, Fut>(self: &Arc<Self>, key: String, make: F) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.ttl.is_zero() {
            return make().await.map(Arc::new);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let entry = {
            let Ok(mut entries) = self.entries.lock() else {
                return make().await.map(Arc::new);
            };
            if entries.len() > 10_000 {
                entries.retain(|_, e| e.generation == generation);
            }
            match entries.get(&key) {
                Some(e) if e.generation == generation && e.made.elapsed() < self.ttl => {
                    Arc::clone(e)
                }
                // Being computed: wait for that computation, whatever was
                // recorded since, rather than start another beside it.
                Some(e) if e.value.get().is_none() => Arc::clone(e),
                // Aged, or older than an event this server recorded: given
                // while one refresh runs. Under a steady stream of webhooks
                // the answers stay one computation behind rather than each
                // request computing again.
                Some(e) if e.value.get().is_some() => {
                    let aged = Arc::clone(e);
                    drop(entries);
                    self.refresh(key, aged.clone(), make);
                    return Ok(aged.value.get().cloned().unwrap_or_else(|| unreachable!()));
                }
                _ => {
                    let e = Arc::new(Entry::new(generation));
                    entries.insert(key, Arc::clone(&e));
                    e
                }
            }
        };
        entry
            .value
            .get_or_try_init(|| async { make().await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Computes `key` again in the background, once, and puts the new
    /// answer in place of `aged` (unless an event made both stale).
    fn refresh<E, F, Fut>(self: &Arc<Self>, key: String, aged: Arc<Entry<T>>, make: F)
    where
        T: Send + Sync + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if aged.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let cache = Arc::clone(self);
        // The generation when the refresh starts: an event recorded while
        // it runs makes it aged again.
        let generation = self.generation.load(Ordering::SeqCst);
        tokio::spawn(async move {
            let fresh = Entry::new(generation);
            match make().await {
                Ok(v) => {
                    let _ = fresh.value.set(Arc::new(v));
                    if let Ok(mut entries) = cache.entries.lock() {
                        entries.insert(key, Arc::new(fresh));
                    }
                }
                // The store failed: the aged answer is not given again
                // (it would hide the failure for as long as it lasts); the
                // next asker computes, and hears the error.
                Err(_) => {
                    if let Ok(mut entries) = cache.entries.lock() {
                        if entries.get(&key).is_some_and(|e| Arc::ptr_eq(e, &aged)) {
                            entries.remove(&key);
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn one_computation_per_key_until_stale() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let make = move || {
            let calls = Arc::clone(&counted);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(7)
            }
        };
        assert_eq!(*cache.get("a".into(), make.clone()).await.unwrap(), 7);
        assert_eq!(*cache.get("a".into(), make.clone()).await.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.get("b".into(), make.clone()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.invalidate();
        // Aged by the event: given once more while one refresh runs.
        cache.get("a".into(), make.clone()).await.unwrap();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let failing = || async { Err::<u32, &str>("no") };
        assert!(cache.get("c".into(), failing).await.is_err());
        assert_eq!(*cache.get("c".into(), make.clone()).await.unwrap(), 7);
        let off: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::ZERO));
        off.get("a".into(), make.clone()).await.unwrap();
        off.get("a".into(), make.clone()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }

    /// An event recorded while the first answer is computed joins that
    /// computation: a stream of webhooks never starts one per request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_during_the_first_computation_join_it() {
        let cache: Arc<Cache<u64>> = Arc::new(Cache::new(Duration::from_secs(5)));
        let n = Arc::new(AtomicU64::new(0));
        let make = |n: Arc<AtomicU64>| {
            move || async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, ()>(n.fetch_add(1, Ordering::SeqCst))
            }
        };
        let first = {
            let (cache, n) = (Arc::clone(&cache), Arc::clone(&n));
            tokio::spawn(async move { cache.get("k".into(), make(n)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        cache.invalidate();
        let second = cache.get("k".into(), make(Arc::clone(&n))).await.unwrap();
        assert_eq!(*second, 0);
        assert_eq!(*first.await.unwrap().unwrap(), 0);
        assert_eq!(n.load(Ordering::SeqCst), 1, "one computation");
    }

    /// An aged answer is given at once while one refresh runs; the next
    /// asker gets the refreshed one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aged_answers_are_given_while_one_refresh_runs() {
        let cache: Arc<Cache<u64>> = Arc::new(Cache::new(Duration::from_millis(50)));
        let n = Arc::new(AtomicU64::new(0));
        let make = |n: Arc<AtomicU64>| {
            move || async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, ()>(n.fetch_add(1, Ordering::SeqCst))
            }
        };
        assert_eq!(
            *cache.get("k".into(), make(Arc::clone(&n))).await.unwrap(),
            0
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = std::time::Instant::now();
        for _ in 0..5 {
            assert_eq!(
                *cache.get("k".into(), make(Arc::clone(&n))).await.unwrap(),
                0
            );
        }
        assert!(
            started.elapsed() < Duration::from_millis(90),
            "nobody waited"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(n.load(Ordering::SeqCst), 2, "one refresh");
        assert_eq!(
            *cache.get("k".into(), make(Arc::clone(&n))).await.unwrap(),
            1
        );
    }

    /// The store goes down: the aged answer is given once (its refresh
    /// running), then the refresh fails and askers hear the error, not the
    /// old numbers over and over; back up, the answer is computed again.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_refresh_does_not_keep_the_aged_answer() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(60)));
        let up = Arc::new(AtomicBool::new(true));
        let store = Arc::clone(&up);
        let make = move || {
            let up = Arc::clone(&store);
            async move {
                if up.load(Ordering::SeqCst) {
                    Ok(7)
                } else {
                    Err("down")
                }
            }
        };
        assert_eq!(*cache.get("a".into(), make.clone()).await.unwrap(), 7);
        up.store(false, Ordering::SeqCst);
        cache.invalidate();
        assert_eq!(*cache.get("a".into(), make.clone()).await.unwrap(), 7);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            cache.get("a".into(), make.clone()).await.err(),
            Some("down")
        );
        assert_eq!(
            cache.get("a".into(), make.clone()).await.err(),
            Some("down")
        );
        up.store(true, Ordering::SeqCst);
        assert_eq!(*cache.get("a".into(), make.clone()).await.unwrap(), 7);
    }
}
