//! Parsed lists shared by every stack of one region and identity.
//!
//! Shared reads on the wire (`shared_reads`) spare AWS the calls, but each
//! stack still parses the shared answer whole, so the operator's CPU grows
//! with stacks times resources. A kind that lists every stackops resource
//! of its kind asks through `AwsClients::listed` instead: within a window the list is
//! fetched and parsed once per (region and identity, question), and every
//! stack keeps its own resources from the parsed list.
//!
//! It follows the freshness rules of shared reads: only while the clients
//! share reads (`ReadMarker::shares`), so a pass that reads afresh and the
//! command line fetch their own; a list served from memory is counted as a
//! shared read, so the engine plans and reads afresh before any write.
//!
//! It also keeps a few reads of one stack's resource that no list answers
//! (a target group's health) while a shared list vouches that nothing they
//! depend on has changed: `kept_while` serves such an answer only while its
//! witness (a digest of the list's part it depends on) is the same, and for
//! at most the settings lifetime.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::engine::calls::CallCounter;
use crate::engine::error::AwsError;

type Parsed = Arc<dyn Any + Send + Sync>;

tokio::task_local! {
    /// Set while a read kept here (parsed) is fetched.
    static FETCHING_TO_KEEP: bool;
}

/// Whether the running task fetches a read to keep parsed (a list for
/// every stack, or a read kept while vouched for): its reads are then asked
/// of AWS, not of the answers kept on the wire, so the lifetime kept here
/// is the only one that counts.
pub fn fetching_to_keep() -> bool {
    FETCHING_TO_KEEP
        .try_with(|fetching| *fetching)
        .unwrap_or(false)
}

/// Runs `read` so that its requests reach AWS (see [`fetching_to_keep`]).
pub async fn fetch_to_keep<F: Future>(read: F) -> F::Output {
    FETCHING_TO_KEEP.scope(true, read).await
}

/// One question's answer: fetched once (single-flight), then kept until
/// `expires`.
#[derive(Clone)]
struct Slot {
    /// When it was fetched, the parsed list, and how many items it holds.
    answer: Arc<OnceCell<(Instant, Parsed, usize)>>,
}

/// A read kept while its witness stays the same, for `span` at most.
struct Vouched {
    witness: u64,
    at: Instant,
    span: Duration,
    answer: Parsed,
}

/// How long a read is kept whose witness shows every change to it (a
/// dashboard's last-modified time and size): long, but bounded, so what
/// belonged to stacks now gone is dropped.
pub const WHOLE_WITNESS_SPAN: Duration = Duration::from_secs(24 * 3600);

/// The witness of `vouching`: the part of the shared lists a kept read
/// depends on, as one number that changes when that part does.
pub fn witness(vouching: &impl std::hash::Hash) -> u64 {
    std::hash::BuildHasher::hash_one(
        &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
        vouching,
    )
}

type Key = (Arc<str>, String);

/// The scope of an account-wide list: `scope` (`region|identity`) without
/// its region.
pub fn account_wide(scope: &Arc<str>) -> Arc<str> {
    match scope.split_once('|') {
        Some((_, identity)) => format!("account|{identity}").into(),
        None => scope.clone(),
    }
}

/// The operator's parsed lists, for every region and identity.
pub struct SharedLists {
    window: Duration,
    /// How long a vouched-for read is kept at most.
    settings: Duration,
    /// Counts lists served from memory process-wide (the metrics).
    pub(crate) process_calls: CallCounter,
    slots: Mutex<HashMap<Key, Slot>>,
    vouched: Mutex<HashMap<Key, Vouched>>,
    /// Seeds each answer's jitter, so lists do not all fall due together.
    jitter: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for SharedLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLists")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl SharedLists {
    /// Lists kept for `window`, vouched-for reads for `settings` at most.
    pub fn new(window: Duration, settings: Duration, process_calls: CallCounter) -> Arc<Self> {
        Arc::new(Self {
            window,
            settings,
            process_calls,
            slots: Mutex::default(),
            vouched: Mutex::default(),
            jitter: Default::default(),
        })
    }

    /// How long an answer to `key` is kept: `span`, less up to 20 %.
    fn lifetime(&self, key: &Key, span: Duration) -> Duration {
        let draw = std::hash::BuildHasher::hash_one(&self.jitter, key) % 1000;
        span.mul_f64(1.0 - 0.2 * draw as f64 / 1000.0)
    }

    /// The answer kept for `question` in `scope`, if it was kept with this
    /// `witness` and is younger than its span (less jitter).
    pub fn kept_while<T: Clone + Send + Sync + 'static>(
        &self,
        scope: &Arc<str>,
        question: &str,
        witness: u64,
    ) -> Option<T> {
        let key = (scope.clone(), question.to_string());
        let vouched = self.vouched.lock().expect("vouched reads lock");
        let kept = vouched.get(&key)?;
        if kept.witness != witness || kept.at.elapsed() >= self.lifetime(&key, kept.span) {
            return None;
        }
        kept.answer.downcast_ref::<T>().cloned()
    }

    /// Keeps `answer` to `question` in `scope` while `witness` holds, for
    /// the settings lifetime at most.
    pub fn keep<T: Send + Sync + 'static>(
        &self,
        scope: &Arc<str>,
        question: &str,
        witness: u64,
        answer: T,
    ) {
        self.keep_for(scope, question, witness, self.settings, answer);
    }

    /// Keeps `answer` to `question` in `scope` while `witness` holds, for
    /// `span` at most; drops what has outlived its span (stacks gone,
    /// groups replaced), so the map holds about one answer per live
    /// resource.
    pub fn keep_for<T: Send + Sync + 'static>(
        &self,
        scope: &Arc<str>,
        question: &str,
        witness: u64,
        span: Duration,
        answer: T,
    ) {
        let mut vouched = self.vouched.lock().expect("vouched reads lock");
        vouched.retain(|_, kept| kept.at.elapsed() < kept.span);
        vouched.insert(
            (scope.clone(), question.to_string()),
            Vouched {
                witness,
                at: Instant::now(),
                span,
                answer: Arc::new(answer),
            },
        );
    }

    /// Forgets what was kept for `question` in `scope`.
    pub fn forget(&self, scope: &Arc<str>, question: &str) {
        let key = (scope.clone(), question.to_string());
        self.vouched
            .lock()
            .expect("vouched reads lock")
            .remove(&key);
    }

    /// How many items the list kept for `question` in `scope` holds.
    pub fn kept_len(&self, scope: &Arc<str>, question: &str) -> Option<usize> {
        let slots = self.slots.lock().expect("shared lists lock");
        let slot = slots.get(&(scope.clone(), question.to_string()))?;
        slot.answer.get().map(|(_, _, len)| *len)
    }

    /// The answer to `question` in `scope`, fetched by the first asker of
    /// the window. True when it came from memory.
    pub async fn get<T, F, Fut>(
        &self,
        scope: &Arc<str>,
        question: &str,
        fetch: F,
    ) -> Result<(Arc<Vec<T>>, bool), AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, AwsError>>,
    {
        let key = (scope.clone(), question.to_string());
        let slot = {
            let mut slots = self.slots.lock().expect("shared lists lock");
            let lifetime = self.lifetime(&key, self.window);
            let stale = |slot: &Slot| {
                slot.answer
                    .get()
                    .is_some_and(|(at, _, _)| at.elapsed() >= lifetime)
            };
            match slots.get(&key) {
                Some(slot) if !stale(slot) => slot.clone(),
                _ => {
                    let slot = Slot {
                        answer: Arc::default(),
                    };
                    slots.insert(key, slot.clone());
                    slot
                }
            }
        };
        let fetched = AtomicBool::new(false);
        let (_, parsed, _) = slot
            .answer
            .get_or_try_init(|| async {
                fetched.store(true, Ordering::Relaxed);
                let list = fetch_to_keep(fetch()).await?;
                let len = list.len();
                let list: Parsed = Arc::new(list);
                Ok::<_, AwsError>((Instant::now(), list, len))
            })
            .await?;
        let list = parsed
            .clone()
            .downcast::<Vec<T>>()
            .expect("one question is always answered with one type");
        Ok((list, !fetched.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn one_fetch_serves_every_asker_of_the_window() {
        let lists = SharedLists::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
            CallCounter::default(),
        );
        let scope: Arc<str> = "us-east-1|operator".into();
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(vec![1, 2, 3])
        };
        let (a, b) = tokio::join!(
            lists.get(&scope, "ec2:DescribeVpcs", fetch),
            lists.get(&scope, "ec2:DescribeVpcs", fetch)
        );
        let ((a, a_served), (b, b_served)) = (a.unwrap(), b.unwrap());
        assert_eq!(fetches.load(Ordering::Relaxed), 1);
        assert_eq!(
            (a.as_slice(), b.as_slice()),
            (&[1, 2, 3][..], &[1, 2, 3][..])
        );
        assert!(a_served != b_served, "exactly one asker fetched");
        // Another region or identity asks for its own.
        let other: Arc<str> = "eu-west-1|operator".into();
        lists.get(&other, "ec2:DescribeVpcs", fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::Relaxed), 2);
        // An account-wide list is one for every region of an identity.
        for region in [&scope, &other] {
            lists
                .get(&account_wide(region), "iam:ListRoles", fetch)
                .await
                .unwrap();
        }
        assert_eq!(fetches.load(Ordering::Relaxed), 3);
        let role: Arc<str> = "eu-west-1|arn:aws:iam::111122223333:role/a".into();
        assert_eq!(
            &*account_wide(&role),
            "account|arn:aws:iam::111122223333:role/a"
        );
        lists
            .get(&account_wide(&role), "iam:ListRoles", fetch)
            .await
            .unwrap();
        assert_eq!(fetches.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn answers_expire_and_failures_are_not_kept() {
        let lists = SharedLists::new(
            Duration::from_millis(50),
            Duration::from_secs(600),
            CallCounter::default(),
        );
        let scope: Arc<str> = "us-east-1|operator".into();
        let failing = || async {
            Err::<Vec<u8>, _>(AwsError::new(
                crate::engine::error::ErrorClass::Retryable,
                "DescribeVpcs",
                "InternalError",
                "down",
            ))
        };
        assert!(lists.get(&scope, "q", failing).await.is_err());
        let (_, served) = lists
            .get(&scope, "q", || async { Ok(vec![1u8]) })
            .await
            .unwrap();
        assert!(!served, "a failed fetch leaves nothing to serve");
        let (_, served) = lists
            .get(&scope, "q", || async { Ok(vec![2u8]) })
            .await
            .unwrap();
        assert!(served);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (list, served) = lists
            .get(&scope, "q", || async { Ok(vec![3u8]) })
            .await
            .unwrap();
        assert!(!served);
        assert_eq!(*list, vec![3u8]);
    }

    #[test]
    fn a_vouched_read_is_served_while_its_witness_holds_and_not_past_the_settings_lifetime() {
        let lists = SharedLists::new(
            Duration::from_secs(60),
            Duration::from_millis(50),
            CallCounter::default(),
        );
        let scope: Arc<str> = "us-east-1|operator".into();
        assert_eq!(lists.kept_while::<u32>(&scope, "health", 7), None);
        lists.keep(&scope, "health", 7, 3u32);
        assert_eq!(lists.kept_while::<u32>(&scope, "health", 7), Some(3));
        // The list it depends on changed: read again.
        assert_eq!(lists.kept_while::<u32>(&scope, "health", 8), None);
        let other: Arc<str> = "eu-west-1|operator".into();
        assert_eq!(lists.kept_while::<u32>(&other, "health", 7), None);
        lists.forget(&scope, "health");
        assert_eq!(lists.kept_while::<u32>(&scope, "health", 7), None);
        lists.keep(&scope, "health", 7, 3u32);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(lists.kept_while::<u32>(&scope, "health", 7), None);
        // What outlived its lifetime goes when anything else is kept.
        lists.keep(&scope, "other", 1, 1u32);
        assert_eq!(lists.vouched.lock().unwrap().len(), 1);
        // One whose witness shows every change is kept past the settings
        // lifetime, until that witness changes.
        lists.keep_for(&scope, "body", 5, WHOLE_WITNESS_SPAN, 9u32);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(lists.kept_while::<u32>(&scope, "body", 5), Some(9));
        assert_eq!(lists.kept_while::<u32>(&scope, "body", 6), None);
    }
}
