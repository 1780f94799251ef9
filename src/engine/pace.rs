//! How soon to look at a stack again while AWS is still working on it.
//!
//! Real AWS takes minutes (a Multi-AZ database 10 to 40), the emulator no
//! time at all. Looking every few seconds would make the calls to create a
//! stack grow with how long AWS takes, and draw throttling onto every other
//! tool in the account. So each kind says how fast its resources move, and
//! the wait doubles, up to the kind's cap, for as long as a look finds
//! nothing changed.

use std::time::Duration;

use crate::api::status::ResourceState;

use super::outcome::PassOutcome;
pub use super::resource::Pace;

/// Scale applied to every wait, from `STACKOPS_PACE_SCALE` (default 1):
/// a test world whose AWS takes seconds instead of minutes polls in
/// proportion. Never above 1, so it cannot slow a real deployment down.
pub fn scale_from_env() -> f64 {
    std::env::var("STACKOPS_PACE_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(1.0, |s| s.min(1.0))
}

/// The waits between the passes of one stack while it converges.
#[derive(Clone, Debug)]
pub struct Pacer {
    scale: f64,
    /// Each node's state after the previous pass, to tell progress.
    last: Option<Vec<(String, ResourceState)>>,
    /// The previous wait, before scaling.
    delay: Option<Duration>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(scale_from_env())
    }
}

impl Pacer {
    pub fn new(scale: f64) -> Self {
        Self {
            scale,
            last: None,
            delay: None,
        }
    }

    /// How long to wait before the pass after `pass`. The pace of the
    /// quickest resource AWS is working on; with none (the next pass has
    /// work of its own), quick. A pass that wrote nothing and moved no
    /// node to another state doubles the previous wait, up to the cap.
    pub fn next(&mut self, pass: &PassOutcome) -> Duration {
        let pace = pass.pace.unwrap_or(Pace::QUICK);
        let states = states(pass);
        let progressed = pass.writes > 0 || self.last.as_ref() != Some(&states);
        let delay = match self.delay {
            Some(previous) if !progressed => (previous * 2).clamp(pace.first, pace.cap),
            _ => pace.first,
        };
        self.last = Some(states);
        self.delay = Some(delay);
        delay.mul_f64(self.scale)
    }
}

fn states(pass: &PassOutcome) -> Vec<(String, ResourceState)> {
    pass.nodes
        .iter()
        .map(|n| (n.key.clone(), n.state))
        .collect()
}

/// The pace of the quickest resource in `states` AWS is still working on.
pub(super) fn in_flight<'a>(
    paces: impl Iterator<Item = (&'a ResourceState, Pace)>,
) -> Option<Pace> {
    paces
        .filter(|(state, _)| {
            matches!(
                state,
                ResourceState::Creating | ResourceState::Updating | ResourceState::Deleting
            )
        })
        .map(|(_, pace)| pace)
        .reduce(Pace::quicker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::outcome::NodeOutcome;

    fn pass(state: ResourceState, pace: Option<Pace>, writes: usize) -> PassOutcome {
        let mut node = NodeOutcome::new("data/db", "DbInstance");
        node.state = state;
        PassOutcome {
            nodes: vec![node],
            pace,
            writes,
            ..PassOutcome::default()
        }
    }

    #[test]
    fn a_slow_resource_is_looked_at_ever_less_often_up_to_its_cap() {
        let mut pacer = Pacer::new(1.0);
        let creating = || pass(ResourceState::Creating, Some(Pace::SLOW), 0);
        let waits: Vec<u64> = (0..4).map(|_| pacer.next(&creating()).as_secs()).collect();
        assert_eq!(waits, [30, 60, 60, 60]);
    }

    #[test]
    fn progress_starts_the_wait_over() {
        let mut pacer = Pacer::new(1.0);
        pacer.next(&pass(ResourceState::Creating, Some(Pace::SLOW), 0));
        pacer.next(&pass(ResourceState::Creating, Some(Pace::SLOW), 0));
        let after_a_write = pacer.next(&pass(ResourceState::Creating, Some(Pace::SLOW), 1));
        assert_eq!(after_a_write, Duration::from_secs(30));
        let nothing_in_flight = pacer.next(&pass(ResourceState::Ready, None, 0));
        assert_eq!(nothing_in_flight, Pace::QUICK.first);
    }

    #[test]
    fn the_scale_shrinks_every_wait() {
        let mut pacer = Pacer::new(0.1);
        let wait = pacer.next(&pass(ResourceState::Creating, Some(Pace::SLOW), 0));
        assert_eq!(wait, Duration::from_secs(3));
    }

    #[test]
    fn the_quickest_resource_in_flight_sets_the_pace() {
        let states = [
            (ResourceState::Creating, Pace::SLOW),
            (ResourceState::Creating, Pace::MINUTES),
            (ResourceState::Ready, Pace::QUICK),
        ];
        let pace = in_flight(states.iter().map(|(s, p)| (s, *p)));
        assert_eq!(pace, Some(Pace::MINUTES));
        assert_eq!(in_flight(std::iter::empty()), None);
    }
}
