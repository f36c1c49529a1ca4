//! The keys a remote store found damaged in this process, for stores that cannot delete an
//! entry (the Turborepo HTTP API, REAPI): their next `store` of the key skips the "already
//! there, first writer wins" check and overwrites the entry, so the task rebuilt because of
//! the damage repairs the shared cache.

use std::collections::HashSet;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct DamagedKeys {
    keys: Mutex<HashSet<String>>,
}

impl DamagedKeys {
    /// Remembers that the entry for `key` is damaged.
    pub fn mark(&self, key: &str) {
        self.lock().insert(key.to_string());
    }

    /// True while `key` awaits its repair.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().contains(key)
    }

    /// The entry for `key` was overwritten: it is no longer damaged.
    pub fn repaired(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_stays_damaged_until_repaired() {
        let damaged = DamagedKeys::default();
        assert!(!damaged.contains("k"));
        damaged.mark("k");
        assert!(damaged.contains("k"));
        damaged.repaired("k");
        assert!(!damaged.contains("k"));
    }
}
