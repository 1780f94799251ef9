//! Reads shared between stacks. Within a window, a read request that is the
//! same byte for byte (same credentials, region, service, operation and
//! parameters) is answered by AWS once and then from memory, so one
//! paginated describe per (account, region, kind), filtered by the stackops
//! tag key, serves every stack whose pass needs it.
//!
//! It works on the wire, below the SDK, so no kind keeps a cache of its own:
//! while its clients share (`ReadMarker::shares`), a kind asks for every
//! stackops resource of its kind (tag key, name prefix) and keeps its
//! stack's by the uid tag, name or path; otherwise it asks for its own
//! alone, which costs AWS less.
//!
//! Freshness rules:
//! - list reads live for `lists` (the resync interval by default); the
//!   settings of one resource (a bucket's encryption, a load balancer's
//!   attributes: one call per resource, never shared) for `settings`, each
//!   with its own jitter so they do not all fall due together;
//! - a pass that finds anything to change reads afresh first the kinds it
//!   may act on (the engine asks for it through `Clients::read_fresh`),
//!   asking for its own resources alone, so a shared read never causes a duplicate create or a
//!   stale update; its fresh settings answers refresh what is kept, its
//!   fresh lists are not kept (no other stack asks them) and drop any
//!   answer kept for the same request;
//! - lists fetched for every stack are kept parsed (`shared_lists`), not
//!   here, so the memory bound holds settings answers;
//! - writes do not drop what is kept: the stack that wrote reads afresh,
//!   and what it wrote concerns no other stack (during a mass create,
//!   dropping the lists on every write would make every read a full list);
//! - credentials, secrets and prices are never kept.
//!
//! Hand-written because no crate caches at the level of signed AWS requests
//! with these rules; the parts are small: a map of single-flight slots.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::engine::calls::is_mutating;

/// Request header naming how a request may be shared (set by
/// [`ReadMarker`], removed before the request leaves the process).
const CLASS_HEADER: &str = "x-stackops-read";
/// Response header on answers served from memory, so the call counter
/// tells them from calls AWS answered.
pub const SHARED_HEADER: &str = "x-stackops-shared";

/// How long shared reads are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharingOptions {
    /// List reads: one answer serves every stack for this long.
    pub lists: Duration,
    /// Reads of one resource's settings (see [`SETTINGS_OPERATIONS`]).
    pub settings: Duration,
    /// Memory kept for answers at most; beyond it, reads go to AWS.
    pub max_bytes: usize,
}

impl SharingOptions {
    /// Kept for a resync interval; settings for `settings_every` of them.
    pub fn for_resync(resync: Duration, settings_every: u32, max_bytes: usize) -> Self {
        Self {
            lists: resync,
            settings: resync * settings_every.max(1),
            max_bytes,
        }
    }
}

/// Operations that read the settings of one resource: one call per
/// resource, which no other stack can share, so they are kept longer than
/// lists. Drift in these is found within `SharingOptions::settings`, and
/// always before a write.
pub const SETTINGS_OPERATIONS: &[&str] = &[
    "GetBucketEncryption",
    "GetBucketLifecycleConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketLogging",
    "GetPublicAccessBlock",
    "DescribeLoadBalancerAttributes",
    "DescribeTargetGroupAttributes",
    "DescribeListeners",
    "DescribeRules",
    "DescribeTags",
    "GetDashboard",
    "DescribeKey",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListResourceTags",
    "GetTopicAttributes",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "DescribeDBParameters",
    "DescribeCacheParameters",
    "GetRole",
    "GetRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "ListRoleTags",
    "GetInstanceProfile",
    "DescribeLaunchTemplateVersions",
    "DescribeMetricFilters",
    "GetDistributionConfig",
    "GetDistribution",
    "GetOriginAccessControl",
    "DescribeNotificationsForBudget",
    "DescribeSubscribersForNotification",
    // The stack's parameters: one path per stack.
    "GetParametersByPath",
];

/// Reads never kept: credentials, secret values, random passwords and
/// prices (kept by their own cache). Who the caller is may be kept: it
/// never changes for one access key.
const NEVER_KEPT: &[&str] = &[
    "GetSecretValue",
    "GetRandomPassword",
    "GetParameter",
    "GetParameters",
    "GetProducts",
    "GetSessionToken",
    "GetFederationToken",
    "GetAccessKeyInfo",
    "DescribeSpotPriceHistory",
];

/// How a request may be shared, as the marker tells the connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    List,
    Settings,
    /// A settings read that must reach AWS, whose answer refreshes what is
    /// kept.
    Fresh,
    /// A list read that must reach AWS. Its answer is not kept: the parsed
    /// lists (`shared_lists`) keep what every stack needs, and a stack's
    /// own fresh list is asked by no one else, so keeping the bytes would
    /// only crowd the settings out of the memory bound. Whatever was kept
    /// for the same request is dropped.
    FreshList,
}

impl Class {
    fn header(self) -> &'static str {
        match self {
            Class::List => "list",
            Class::Settings => "settings",
            Class::Fresh => "fresh",
            Class::FreshList => "fresh-list",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "list" => Class::List,
            "settings" => Class::Settings,
            "fresh" => Class::Fresh,
            "fresh-list" => Class::FreshList,
            _ => return None,
        })
    }

    /// The class of `operation`, or `None` for a call never kept.
    fn of(service: &str, operation: &str, fresh: bool) -> Option<Self> {
        if is_mutating(operation) {
            return None;
        }
        let read = ["Describe", "List", "Get"]
            .iter()
            .any(|p| operation.starts_with(p));
        if !read
            || NEVER_KEPT.contains(&operation)
            || service == "STS" && operation != "GetCallerIdentity"
        {
            return None;
        }
        let settings = SETTINGS_OPERATIONS.contains(&operation);
        Some(match (fresh, settings) {
            (true, true) => Class::Fresh,
            (true, false) => Class::FreshList,
            (false, true) => Class::Settings,
            (false, false) => Class::List,
        })
    }
}

/// Marks each request of one set of clients with its class; holds the
/// set's switches: whether its reads are shared at all, and "read afresh".
#[derive(Clone, Debug, Default)]
pub struct ReadMarker {
    state: Arc<MarkerState>,
}

#[derive(Debug, Default)]
struct MarkerState {
    sharing: AtomicBool,
    fresh: AtomicBool,
    /// The parsed lists of the set's region and identity (named by the
    /// scope string), when the operator shares them.
    lists: std::sync::OnceLock<(Arc<super::shared_lists::SharedLists>, Arc<str>)>,
}

impl ReadMarker {
    /// These clients' HTTP client answers shared reads (the operator's).
    pub fn share(&self) {
        self.state.sharing.store(true, Ordering::Relaxed);
    }

    /// These clients share parsed lists with every set of `scope` (one
    /// region and identity).
    pub fn share_lists(&self, lists: Arc<super::shared_lists::SharedLists>, scope: Arc<str>) {
        let _ = self.state.lists.set((lists, scope));
    }

    /// The parsed lists to ask, while this set shares reads.
    pub fn shared_lists(&self) -> Option<(Arc<super::shared_lists::SharedLists>, Arc<str>)> {
        self.shares()
            .then(|| self.state.lists.get().cloned())
            .flatten()
    }

    /// From now on this set's reads reach AWS.
    pub fn read_fresh(&self) {
        self.state.fresh.store(true, Ordering::Relaxed);
    }

    /// Whether a list read now may be answered for every stack: the kinds
    /// then ask in the form every stack asks in (every stackops resource
    /// of the kind) and keep their own; otherwise they ask for their own
    /// alone, which costs AWS less.
    pub fn shares(&self) -> bool {
        self.state.sharing.load(Ordering::Relaxed) && !self.state.fresh.load(Ordering::Relaxed)
    }
}

impl Intercept for ReadMarker {
    fn name(&self) -> &'static str {
        "stackops.ReadMarker"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        // A read being fetched to keep parsed (a list for every stack) is
        // asked of AWS (its own lifetime is the one that counts) and
        // refreshes what is kept.
        let fresh =
            self.state.fresh.load(Ordering::Relaxed) || super::shared_lists::fetching_to_keep();
        if let Some(class) = Class::of(metadata.service(), metadata.name(), fresh) {
            // Added after signing: never signed, and removed before sending.
            context
                .request_mut()
                .headers_mut()
                .insert(CLASS_HEADER, class.header());
        }
        Ok(())
    }
}

/// Who may share an answer: the same credentials, region and service
/// (from the request's SigV4 credential scope).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    pub(crate) access_key: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Scope {
    pub(crate) fn of(request: &HttpRequest) -> Option<Self> {
        let auth = request.headers().get("authorization")?;
        let credential = auth.split("Credential=").nth(1)?.split(',').next()?;
        let mut parts = credential.split('/');
        let access_key = parts.next()?.to_string();
        let _date = parts.next()?;
        Some(Self {
            access_key,
            region: parts.next()?.to_string(),
            service: parts.next()?.to_string(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    scope: Scope,
    /// Method, URI, target header and body: the request without its
    /// signature and date.
    request: String,
}

impl Key {
    fn of(request: &HttpRequest) -> Option<Self> {
        let body = request.body().bytes()?;
        Some(Self {
            scope: Scope::of(request)?,
            request: format!(
                "{} {}\n{}\n{}",
                request.method(),
                request.uri(),
                request.headers().get("x-amz-target").unwrap_or(""),
                String::from_utf8_lossy(body)
            ),
        })
    }
}

/// An answer kept.
#[derive(Debug)]
struct Kept {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    until: Instant,
}

impl Kept {
    fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    /// The answer again; `shared` marks it as served from memory.
    fn response(&self, shared: bool) -> HttpResponse {
        let status = self.status.try_into().expect("a status we parsed");
        let mut response = HttpResponse::new(status, SdkBody::from(self.body.clone()));
        for (name, value) in &self.headers {
            response.headers_mut().append(name.clone(), value.clone());
        }
        if shared {
            response.headers_mut().insert(SHARED_HEADER, "1");
        }
        response
    }
}

type Slot = Arc<OnceCell<Arc<Kept>>>;

/// The answers kept, shared by every connector of a process.
pub struct SharedReads {
    options: SharingOptions,
    slots: Mutex<HashMap<Key, Slot>>,
    /// Seeds each answer's jitter (random per process).
    jitter: std::collections::hash_map::RandomState,
    /// Bytes of answers kept now. Reads served are counted by the call
    /// counters (`CallCounter::shared`), not here.
    bytes: AtomicU64,
}

impl fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReads")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SharedReads {
    pub fn new(options: SharingOptions) -> Arc<Self> {
        Arc::new(Self {
            options,
            slots: Mutex::new(HashMap::new()),
            jitter: Default::default(),
            bytes: AtomicU64::new(0),
        })
    }

    /// `inner`, answering shareable reads from memory.
    pub fn connector(self: &Arc<Self>, inner: SharedHttpConnector) -> SharedHttpConnector {
        SharedHttpConnector::new(SharingConnector {
            reads: self.clone(),
            inner,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot for `key`: the live one, or a new one in place of one
    /// expired (or refreshed, for a fresh read).
    fn slot(&self, key: &Key, replace: bool) -> Slot {
        let now = Instant::now();
        let mut slots = self.lock();
        let live = slots
            .get(key)
            .filter(|slot| !replace && slot.get().is_none_or(|kept| kept.until > now));
        if let Some(slot) = live {
            return slot.clone();
        }
        let slot = Slot::default();
        if let Some(old) = slots.insert(key.clone(), slot.clone()) {
            self.forget(&old);
        }
        slot
    }

    /// Drops whatever is kept for `key` (a newer answer is on its way).
    fn drop_kept(&self, key: &Key) {
        if let Some(old) = self.lock().remove(key) {
            self.forget(&old);
        }
    }

    fn forget(&self, slot: &Slot) {
        if let Some(kept) = slot.get() {
            self.bytes.fetch_sub(kept.size() as u64, Ordering::Relaxed);
        }
    }

    /// Drops answers whose time is up; true when `extra` more bytes fit.
    fn room_for(&self, extra: usize) -> bool {
        if self.bytes.load(Ordering::Relaxed) as usize + extra <= self.options.max_bytes {
            return true;
        }
        let now = Instant::now();
        let mut slots = self.lock();
        slots.retain(|_, slot| {
            let keep = slot.get().is_none_or(|kept| kept.until > now);
            if !keep {
                self.forget(slot);
            }
            keep
        });
        self.bytes.load(Ordering::Relaxed) as usize + extra <= self.options.max_bytes
    }

    /// How long an answer of `class` to `key` is kept: its window, less
    /// up to a fifth drawn from the request, so that answers fetched
    /// together fall due apart.
    fn lifetime(&self, class: Class, key: &Key) -> Duration {
        // A fresh settings answer is as good as any: kept as long.
        let window = match class {
            Class::Settings | Class::Fresh => self.options.settings,
            Class::List | Class::FreshList => self.options.lists,
        };
        let draw = std::hash::BuildHasher::hash_one(&self.jitter, key) % 1000;
        window.mul_f64(1.0 - draw as f64 / 5000.0)
    }
}

#[derive(Debug)]
struct SharingConnector {
    reads: Arc<SharedReads>,
    inner: SharedHttpConnector,
}

impl HttpConnector for SharingConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let class = request
            .headers_mut()
            .remove(CLASS_HEADER)
            .and_then(|v| Class::parse(&v));
        let key = Key::of(&request);
        match (class, key) {
            (Some(Class::FreshList), Some(key)) => {
                self.reads.drop_kept(&key);
                self.inner.call(request)
            }
            (Some(class), Some(key)) => {
                let reads = self.reads.clone();
                let inner = self.inner.clone();
                HttpConnectorFuture::new(async move {
                    shared_call(&reads, &inner, class, key, request).await
                })
            }
            _ => self.inner.call(request),
        }
    }
}

/// An answer to a shareable read: kept, or fetched once for everyone
/// asking at the same time.
async fn shared_call(
    reads: &SharedReads,
    inner: &SharedHttpConnector,
    class: Class,
    key: Key,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let slot = reads.slot(&key, class == Class::Fresh);
    let mut request = Some(request);
    let mut passed_through = None;
    let fetched_here = AtomicBool::new(false);
    let kept = slot
        .get_or_try_init(|| async {
            fetched_here.store(true, Ordering::Relaxed);
            let request = request.take().expect("one fetch per call");
            let response = inner.call(request).await?;
            if !keepable(response.status().as_u16()) {
                passed_through = Some(response);
                return Err(None);
            }
            let kept = keep(response, reads.lifetime(class, &key))
                .await
                .map_err(Some)?;
            if !reads.room_for(kept.size()) {
                passed_through = Some(kept.response(false));
                return Err(None);
            }
            Ok(Arc::new(kept))
        })
        .await;
    match kept {
        Ok(kept) => {
            if fetched_here.load(Ordering::Relaxed) {
                reads.bytes.fetch_add(kept.size() as u64, Ordering::Relaxed);
                Ok(kept.response(false))
            } else {
                Ok(kept.response(true))
            }
        }
        Err(Some(error)) => Err(error),
        Err(None) => {
            // Not kept (an error answer, or no room): this caller gets it,
            // the next one asks AWS itself.
            Ok(passed_through.expect("set with Err(None)"))
        }
    }
}

/// Answers worth keeping: successes, and "there is none" (a bucket without
/// a policy answers 404), never throttling or server errors.
fn keepable(status: u16) -> bool {
    (200..300).contains(&status) || status == 404
}

async fn keep(response: HttpResponse, lifetime: Duration) -> Result<Kept, ConnectorError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let received = ByteStream::new(response.into_body())
        .collect()
        .await
        .map_err(|e| ConnectorError::io(Box::new(e)))?
        .into_bytes();
    // A body read in one piece is a slice of the connection's read buffer
    // (tens or hundreds of KiB): kept as it is, it would keep that whole
    // buffer alive, and the memory bound would count a fraction of what is
    // held. A copy holds exactly the answer.
    let body = Bytes::copy_from_slice(&received);
    Ok(Kept {
        status,
        headers,
        body,
        until: Instant::now() + lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_classed_by_operation() {
        assert_eq!(Class::of("EC2", "DescribeVpcs", false), Some(Class::List));
        assert_eq!(
            Class::of("S3", "GetBucketPolicy", false),
            Some(Class::Settings)
        );
        assert_eq!(
            Class::of("EC2", "DescribeVpcs", true),
            Some(Class::FreshList)
        );
        assert_eq!(Class::of("S3", "GetBucketPolicy", true), Some(Class::Fresh));
        assert_eq!(Class::of("EC2", "CreateVpc", false), None);
        assert_eq!(Class::of("Secrets Manager", "GetSecretValue", false), None);
        assert_eq!(Class::of("STS", "AssumeRole", false), None);
        assert_eq!(
            Class::of("STS", "GetCallerIdentity", false),
            Some(Class::List)
        );
        assert_eq!(
            Class::of("Secrets Manager", "GetRandomPassword", false),
            None
        );
    }

    #[test]
    fn the_scope_comes_from_the_credential() {
        let mut request = HttpRequest::new(SdkBody::from("Action=DescribeVpcs"));
        request.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/eu-west-1/ec2/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        );
        let scope = Scope::of(&request).unwrap();
        assert_eq!(scope.access_key, "AKIDEXAMPLE");
        assert_eq!(scope.region, "eu-west-1");
        assert_eq!(scope.service, "ec2");
        let unsigned = HttpRequest::new(SdkBody::from(""));
        assert!(Key::of(&unsigned).is_none());
    }

    /// Answers "ok" and counts the requests that reach it.
    #[derive(Debug, Default)]
    struct CountingAws(Arc<AtomicU64>);

    impl HttpConnector for CountingAws {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::Relaxed);
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                200.try_into().unwrap(),
                SdkBody::from("ok"),
            )))
        }
    }

    fn read(class: Class, body: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
        request.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/ec2/aws4_request, \
             SignedHeaders=host, Signature=abc",
        );
        request.headers_mut().insert(CLASS_HEADER, class.header());
        request
    }

    #[tokio::test]
    async fn fresh_lists_reach_aws_are_not_kept_and_drop_what_was() {
        let reached = Arc::new(AtomicU64::new(0));
        let reads = SharedReads::new(SharingOptions::for_resync(
            Duration::from_secs(60),
            12,
            1 << 20,
        ));
        let connector = reads.connector(SharedHttpConnector::new(CountingAws(reached.clone())));
        let list = "Action=DescribeVpcs";
        connector.call(read(Class::List, list)).await.unwrap();
        connector.call(read(Class::List, list)).await.unwrap();
        assert_eq!(reached.load(Ordering::Relaxed), 1, "a list is kept");
        let kept = reads.bytes.load(Ordering::Relaxed);
        assert!(kept > 0);

        connector.call(read(Class::FreshList, list)).await.unwrap();
        connector.call(read(Class::FreshList, list)).await.unwrap();
        assert_eq!(reached.load(Ordering::Relaxed), 3, "fresh lists reach AWS");
        assert_eq!(reads.bytes.load(Ordering::Relaxed), 0, "nothing kept");
        connector.call(read(Class::List, list)).await.unwrap();
        assert_eq!(
            reached.load(Ordering::Relaxed),
            4,
            "the answer kept before the fresh read is gone"
        );

        // A fresh settings answer replaces the kept one and is kept.
        let settings = "Action=DescribeLoadBalancerAttributes&LoadBalancerArn=a";
        connector
            .call(read(Class::Settings, settings))
            .await
            .unwrap();
        connector.call(read(Class::Fresh, settings)).await.unwrap();
        connector
            .call(read(Class::Settings, settings))
            .await
            .unwrap();
        assert_eq!(reached.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn errors_other_than_not_found_are_not_kept() {
        assert!(keepable(200));
        assert!(keepable(404));
        assert!(!keepable(400));
        assert!(!keepable(503));
    }
}
