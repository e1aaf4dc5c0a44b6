//! Answers computed once and shared for a short while (`--cache-ttl`): a
//! dashboard or 32 clients asking the same question cost one store read,
//! and concurrent askers wait for the one computation rather than each
//! starting their own. Every event this server records makes every entry
//! stale at once; events written by others (CI jobs writing to the same
//! store) show after at most the TTL.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

struct Entry<T> {
    made: Instant,
    generation: u64,
    value: OnceCell<Arc<T>>,
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
    pub async fn get<E, F, Fut>(&self, key: String, make: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
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
                let ttl = self.ttl;
                entries.retain(|_, e| e.made.elapsed() < ttl && e.generation == generation);
            }
            let fresh = entries
                .get(&key)
                .filter(|e| e.made.elapsed() < self.ttl && e.generation == generation)
                .cloned();
            match fresh {
                Some(e) => e,
                None => {
                    let e = Arc::new(Entry {
                        made: Instant::now(),
                        generation,
                        value: OnceCell::new(),
                    });
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn one_computation_per_key_until_stale() {
        let cache: Cache<u32> = Cache::new(Duration::from_secs(60));
        let calls = AtomicU64::new(0);
        let make = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        assert_eq!(*cache.get("a".into(), make).await.unwrap(), 7);
        assert_eq!(*cache.get("a".into(), make).await.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.get("b".into(), make).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.invalidate();
        cache.get("a".into(), make).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let failing = || async { Err::<u32, &str>("no") };
        assert!(cache.get("c".into(), failing).await.is_err());
        assert_eq!(*cache.get("c".into(), make).await.unwrap(), 7);
        let off: Cache<u32> = Cache::new(Duration::ZERO);
        off.get("a".into(), make).await.unwrap();
        off.get("a".into(), make).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }
}
