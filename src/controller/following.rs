//! The stacks the operator is waiting on AWS for, between reconciles: the
//! last pass (whose settled kinds the next one reuses) and the pacer that
//! spaces the looks. Lost on restart or on a new leader, which costs one
//! full pass and nothing else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::{Pacer, PassOutcome};

/// What the next reconcile of a converging stack continues from.
pub struct Follow {
    /// The spec generation the passes were made for.
    pub generation: Option<i64>,
    pub last: PassOutcome,
    pub pacer: Pacer,
    /// When the last full pass ran.
    pub full_pass_at: Instant,
}

/// Converging stacks by uid (teardowns under their own key).
#[derive(Default)]
pub struct Following {
    stacks: Mutex<HashMap<String, Follow>>,
}

impl Following {
    /// What `key` continues from, if its last pass was for `generation` and
    /// its last full pass is younger than `max_age`; a changed spec or a
    /// long wait starts over with a full pass.
    pub fn take(&self, key: &str, generation: Option<i64>, max_age: Duration) -> Option<Follow> {
        let follow = self.lock().remove(key)?;
        (follow.generation == generation && follow.full_pass_at.elapsed() < max_age)
            .then_some(follow)
    }

    pub fn keep(&self, key: String, follow: Follow) {
        self.lock().insert(key, follow);
    }

    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many stacks are being followed (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Follow>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.stacks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow(generation: i64) -> Follow {
        Follow {
            generation: Some(generation),
            last: PassOutcome::default(),
            pacer: Pacer::new(1.0),
            full_pass_at: Instant::now(),
        }
    }

    #[test]
    fn a_new_generation_starts_over() {
        let following = Following::default();
        following.keep("uid".into(), follow(1));
        assert!(
            following
                .take("uid", Some(2), Duration::from_secs(60))
                .is_none()
        );
        assert!(following.is_empty(), "the stale entry is dropped");
        following.keep("uid".into(), follow(1));
        assert!(
            following
                .take("uid", Some(1), Duration::from_secs(60))
                .is_some()
        );
    }

    #[test]
    fn an_old_full_pass_starts_over() {
        let following = Following::default();
        following.keep("uid".into(), follow(1));
        assert!(following.take("uid", Some(1), Duration::ZERO).is_none());
    }
}
