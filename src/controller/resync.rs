//! When a Ready stack is looked at again: after the resync interval, or
//! later when the replica could not give every stack it holds a pass that
//! often with half its workers. The other half stays free for stacks being
//! created, changed or deleted: kube-rs's queue has no priorities, so an
//! overdue resync of a Ready stack runs before a new stack's first pass,
//! and a replica behind on its resyncs would otherwise start no new stack.
//!
//! Each stack's resync is also spread over a tenth of the interval by its
//! uid, so stacks created together do not all look again together.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

/// The share of the workers resyncs of Ready stacks may fill.
const READY_SHARE: f64 = 0.5;

/// At most this many resync intervals between two looks at a Ready stack:
/// drift is still found within a bounded time, and a stack put off while
/// the replica was behind is not put off long after it has caught up.
const MAX_STRETCH: u32 = 4;

/// How much a new pass's duration moves the mean (an exponential moving
/// average: the last few dozen passes count).
const WEIGHT: f64 = 0.05;

/// The mean duration of a Ready stack's pass, as this replica has seen it.
#[derive(Debug, Default)]
pub struct ResyncPace {
    mean_pass_secs: Mutex<Option<f64>>,
}

impl ResyncPace {
    /// A pass of a Ready stack took `took`.
    pub fn passed(&self, took: Duration) {
        let mut mean = self
            .mean_pass_secs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let took = took.as_secs_f64();
        *mean = Some(match *mean {
            Some(m) => m + WEIGHT * (took - m),
            None => took,
        });
    }

    /// The resync that lets `held` stacks each have a pass with
    /// `READY_SHARE` of `concurrency` workers: `resync` or longer, up to
    /// `MAX_STRETCH` times it.
    pub fn interval(&self, resync: Duration, held: usize, concurrency: u16) -> Duration {
        let mean = self
            .mean_pass_secs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default();
        let workers = f64::from(concurrency.max(1)) * READY_SHARE;
        let needed = Duration::from_secs_f64(held as f64 * mean / workers);
        needed.clamp(resync, resync * MAX_STRETCH)
    }
}

/// Up to a tenth of `interval`, picked by `uid`.
pub fn spread(uid: &str, interval: Duration) -> Duration {
    let mut hasher = DefaultHasher::new();
    uid.hash(&mut hasher);
    let per_mille = hasher.finish() % 100;
    interval * u32::try_from(per_mille).unwrap_or(0) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESYNC: Duration = Duration::from_secs(60);

    #[test]
    fn a_replica_that_keeps_up_resyncs_at_the_interval() {
        let pace = ResyncPace::default();
        assert_eq!(pace.interval(RESYNC, 100, 4), RESYNC, "nothing seen yet");
        pace.passed(Duration::from_secs(1));
        // 100 stacks of 1 s on 2 workers: 50 s, within the minute.
        assert_eq!(pace.interval(RESYNC, 100, 4), RESYNC);
    }

    #[test]
    fn a_replica_behind_stretches_resyncs_to_leave_half_its_workers_free() {
        let pace = ResyncPace::default();
        let resync = Duration::from_secs(600);
        pace.passed(Duration::from_secs(10));
        // 1,000 stacks of 10 s on 8 of 16 workers: 1,250 s.
        assert_eq!(pace.interval(resync, 1000, 16), Duration::from_secs(1250));
        // Never more than four intervals.
        assert_eq!(pace.interval(resync, 10_000, 16), resync * 4);
        // Quicker passes bring it back to the interval.
        for _ in 0..200 {
            pace.passed(Duration::from_secs(1));
        }
        assert_eq!(pace.interval(resync, 1000, 16), resync);
    }

    #[test]
    fn each_stack_is_spread_over_a_tenth_of_the_interval_always_the_same() {
        let next: Vec<Duration> = (0..50)
            .map(|i| RESYNC + spread(&format!("uid-{i}"), RESYNC))
            .collect();
        assert!(next.iter().all(|n| *n >= RESYNC && *n < RESYNC * 11 / 10));
        assert!(next.iter().any(|n| *n != next[0]), "spread: {next:?}");
        assert_eq!(RESYNC + spread("uid-7", RESYNC), next[7]);
    }
}
