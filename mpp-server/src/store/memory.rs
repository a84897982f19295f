//! The in-process store.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mpp_core::method::BoxFuture;

use super::{Store, StoreError, check_member};

/// An in-process store: fast, but forgets everything on restart and is not shared
/// between server instances (use the durable stores for that).
///
/// Expired entries are evicted as new ones arrive (oldest expiry first), so memory
/// stays proportional to the live entries. A hard cap on live entries and set
/// members together makes a flood of claims fail closed instead of exhausting
/// memory.
pub struct MemoryStore {
    state: Mutex<State>,
    max_entries: usize,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, (Vec<u8>, Instant)>,
    /// Expiry times, soonest first (`Reverse` ordering through the tuple below).
    expiries: BinaryHeap<std::cmp::Reverse<(Instant, String)>>,
    sets: HashMap<String, HashSet<String>>,
    /// The members of all sets, counted against the cap with the entries.
    members: usize,
}

impl State {
    fn evict_expired(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(std::cmp::Reverse((at, key))) = self.expiries.pop() else {
                break;
            };
            // The key may have been replaced with a later expiry since.
            if self.entries.get(&key).is_some_and(|(_, e)| *e == at) {
                self.entries.remove(&key);
            }
        }
    }

    /// Entries and set members held.
    fn held(&self) -> usize {
        self.entries.len() + self.members
    }

    fn live(&self, key: &str, now: Instant) -> Option<&Vec<u8>> {
        self.entries
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(v, _)| v)
    }

    fn insert(&mut self, key: &str, value: &[u8], expires: Instant) {
        self.entries
            .insert(key.to_owned(), (value.to_vec(), expires));
        self.expiries
            .push(std::cmp::Reverse((expires, key.to_owned())));
        // Rewriting a live key leaves its old expiry in the heap until that time
        // comes: a hot key (a session's account, debited on every request) would grow
        // the heap without bound. Rebuilding from the live entries once the heap is
        // twice their number costs O(n) every n writes or more: O(1) per write.
        if self.expiries.len() > 2 * self.entries.len() + HEAP_SLACK {
            self.expiries = self
                .entries
                .iter()
                .map(|(key, (_, at))| std::cmp::Reverse((*at, key.clone())))
                .collect();
        }
    }
}

/// Superseded expiries tolerated in the heap beyond the live entries' number, so
/// that a small store is not rebuilt on every write.
const HEAP_SLACK: usize = 64;

/// Times to live are capped at a century: longer means "keep", and an `Instant` that
/// far out may not exist.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// When an entry written at `now` with `ttl` expires.
fn expiry(now: Instant, ttl: Duration) -> Result<Instant, StoreError> {
    now.checked_add(ttl.min(MAX_TTL))
        .ok_or_else(|| StoreError::Invalid("memory store: time to live out of range".into()))
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(1_000_000)
    }
}

impl MemoryStore {
    /// A store holding at most `max_entries` live entries.
    pub fn new(max_entries: usize) -> MemoryStore {
        MemoryStore {
            state: Mutex::new(State::default()),
            max_entries,
        }
    }

    /// The number of entries and set members held, expired entries not yet evicted
    /// included.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |s| s.held())
    }

    /// Whether the store holds no entry and no set member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::backend("memory store lock poisoned"))
    }

    fn put_if_absent_now(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        state.evict_expired(now);
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        if state.held() >= self.max_entries {
            return Err(StoreError::backend("memory store is full"));
        }
        state.insert(key, value, expiry(now, ttl)?);
        Ok(true)
    }

    fn swap_now(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        match state.live(key, now).map(Vec::as_slice) {
            Some(live) if live == expected => {}
            // Already swapped (a repeat): done, and left as it is.
            Some(live) => return Ok(live == new),
            None => return Ok(false),
        }
        state.insert(key, new, expiry(now, ttl)?);
        Ok(true)
    }

    fn put_now(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        state.evict_expired(now);
        if !state.entries.contains_key(key) && state.held() >= self.max_entries {
            return Err(StoreError::backend("memory store is full"));
        }
        state.insert(key, value, expiry(now, ttl)?);
        Ok(())
    }

    fn add_member_now(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        check_member(member)?;
        let mut state = self.lock()?;
        if state.sets.get(set).is_some_and(|s| s.contains(member)) {
            return Ok(false);
        }
        state.evict_expired(Instant::now());
        if state.held() >= self.max_entries {
            return Err(StoreError::backend("memory store is full"));
        }
        state
            .sets
            .entry(set.to_owned())
            .or_default()
            .insert(member.to_owned());
        state.members += 1;
        Ok(true)
    }

    fn remove_member_now(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        check_member(member)?;
        let mut state = self.lock()?;
        let Some(members) = state.sets.get_mut(set) else {
            return Ok(false);
        };
        if !members.remove(member) {
            return Ok(false);
        }
        if members.is_empty() {
            state.sets.remove(set);
        }
        state.members -= 1;
        Ok(true)
    }
}

impl Store for MemoryStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let result = self.put_if_absent_now(key, value, ttl);
        Box::pin(std::future::ready(result))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let result = self.lock().map(|s| s.live(key, Instant::now()).cloned());
        Box::pin(std::future::ready(result))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.put_now(key, value, ttl);
        Box::pin(std::future::ready(result))
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let result = self.swap_now(key, expected, new, ttl);
        Box::pin(std::future::ready(result))
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(self.add_member_now(set, member)))
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(self.remove_member_now(set, member)))
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let result = self.lock().map(|state| {
            state
                .sets
                .get(set)
                .map(|members| members.iter().cloned().collect())
                .unwrap_or_default()
        });
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn put_if_absent_is_single_use_until_expiry() {
        let store = MemoryStore::default();
        let ttl = Duration::from_millis(30);
        assert_eq!(block_on(store.put_if_absent("k", b"1", ttl)), Ok(true));
        assert_eq!(block_on(store.put_if_absent("k", b"2", ttl)), Ok(false));
        assert_eq!(block_on(store.get("k")), Ok(Some(b"1".to_vec())));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(block_on(store.get("k")), Ok(None));
        assert_eq!(block_on(store.put_if_absent("k", b"3", ttl)), Ok(true));
    }

    #[test]
    fn expired_entries_are_evicted_and_the_cap_fails_closed() {
        let store = MemoryStore::new(100);
        for i in 0..100 {
            let key = format!("k{i}");
            assert_eq!(
                block_on(store.put_if_absent(&key, b"", Duration::from_millis(10))),
                Ok(true)
            );
        }
        assert!(block_on(store.put_if_absent("full", b"", Duration::from_secs(60))).is_err());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            block_on(store.put_if_absent("after", b"", Duration::from_secs(60))),
            Ok(true)
        );
        assert_eq!(store.len(), 1, "the expired entries were evicted");
    }

    #[test]
    fn set_members_count_toward_the_cap_and_fail_closed() {
        let store = MemoryStore::new(3);
        assert_eq!(
            block_on(store.put_if_absent("k", b"", Duration::from_secs(60))),
            Ok(true)
        );
        assert_eq!(block_on(store.add_member("set", "a")), Ok(true));
        assert_eq!(block_on(store.add_member("other", "a")), Ok(true));
        assert_eq!(store.len(), 3);
        assert!(block_on(store.add_member("set", "b")).is_err(), "full");
        assert!(block_on(store.put_if_absent("k2", b"", Duration::from_secs(60))).is_err());
        assert_eq!(
            block_on(store.add_member("set", "a")),
            Ok(false),
            "already there"
        );
        assert_eq!(block_on(store.remove_member("other", "a")), Ok(true));
        assert_eq!(
            block_on(store.add_member("set", "b")),
            Ok(true),
            "room again"
        );
        assert_eq!(block_on(store.remove_member("other", "a")), Ok(false));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn a_time_to_live_beyond_any_clock_is_kept_not_a_panic() {
        let store = MemoryStore::default();
        assert_eq!(
            block_on(store.put_if_absent("k", b"1", Duration::MAX)),
            Ok(true)
        );
        block_on(store.put("p", b"2", Duration::MAX)).expect("put");
        assert_eq!(
            block_on(store.compare_and_swap("p", b"2", b"3", Duration::MAX)),
            Ok(true)
        );
        assert_eq!(block_on(store.get("k")), Ok(Some(b"1".to_vec())));
        assert_eq!(block_on(store.get("p")), Ok(Some(b"3".to_vec())));
    }

    #[test]
    fn rewriting_one_key_keeps_the_expiry_heap_bounded() {
        // A session's debits rewrite one account again and again: the expiry heap
        // must not keep one stale entry per write.
        let store = MemoryStore::default();
        let ttl = Duration::from_secs(600);
        block_on(store.put("account", b"0", ttl)).expect("put");
        for i in 0..300_000u32 {
            let (old, new) = (i.to_string(), (i + 1).to_string());
            assert_eq!(
                block_on(store.compare_and_swap("account", old.as_bytes(), new.as_bytes(), ttl)),
                Ok(true)
            );
        }
        let state = store.lock().expect("lock");
        assert_eq!(state.entries.len(), 1);
        assert!(
            state.expiries.len() <= 2 * state.entries.len() + 64,
            "{} heap entries for {} live ones",
            state.expiries.len(),
            state.entries.len()
        );
    }
}
