//! A fault-injecting HTTP proxy between the AWS SDK and moto, on loopback.
//!
//! It knows just enough of the AWS wire protocols to name each call
//! (`ec2:CreateVpc`), to tell mutating calls from reads, and to answer with
//! the throttling and server errors the real service sends, so the SDK
//! classifies and retries them exactly as it would against AWS.
//!
//! Faults are drawn from a seeded generator, one draw per request, so a
//! sequential client sees the same faults on every run.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Which faults to inject. Each request draws one number in `0..1` and meets
/// the first fault whose share it falls into (throttle, then server error,
/// then reset); the rest are forwarded.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Share of requests answered with the service's throttling error.
    pub throttle_rate: f64,
    /// Share answered with a 500 InternalError in the service's error shape.
    pub server_error_rate: f64,
    /// Share whose connection is closed without a response, before anything
    /// reaches moto.
    pub reset_rate: f64,
    /// Delay before each request is forwarded or faulted.
    pub latency: Duration,
    /// Seed of the generator; `set_faults` restarts the sequence.
    pub seed: u64,
    /// Requests a second each service admits, as AWS's request-rate
    /// buckets do (a bucket of this many tokens, refilled at this rate);
    /// a request finding the bucket empty is throttled. `None`: no limit.
    pub service_rate: Option<f64>,
}

/// What the proxy saw since it started or since `reset_stats`. Requests to
/// moto's own `/moto-api/` are not counted: they are the harness, not the
/// client.
#[derive(Clone, Debug, Default)]
pub struct ProxyStats {
    /// TCP connections accepted from clients.
    pub connections: usize,
    /// Every request received, refused ones included.
    pub requests: usize,
    /// Requests that reached moto.
    pub forwarded: usize,
    /// Forwarded requests that change state (the ones `crash_after_mutations`
    /// counts).
    pub mutating: usize,
    pub throttled: usize,
    pub server_errors: usize,
    pub resets: usize,
    /// Forwarded requests per `service:Action`, e.g. `ec2:CreateVpc`; REST
    /// calls are named by method and path, e.g. `s3:PUT /bucket`.
    pub by_action: BTreeMap<String, usize>,
}

/// One forwarded call, when the proxy records them (`record_calls`).
#[derive(Clone, Debug)]
pub struct ProxyCall {
    /// The client's app id (`app/<id>` in the SDK's User-Agent,
    /// `AWS_SDK_UA_APP_ID`), empty when it sets none.
    pub app: String,
    /// `service:Action`, as `ProxyStats::by_action` names it.
    pub action: String,
    /// Target and body, for finding which stack a call was about.
    pub text: String,
}

pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts the proxy on a free 127.0.0.1 port in front of `upstream`,
    /// which must be a loopback `http://127.0.0.1:<port>` endpoint. It accepts
    /// connections as soon as this returns, and stops when dropped.
    pub fn start(upstream: &str) -> Self {
        Self::start_routed(upstream, &[])
    }

    /// Like `start`, sending each request to the upstream of the region it
    /// is signed for (SigV4 credential scope), `default` for the others
    /// (global services sign for us-east-1): one emulator per group of
    /// regions, so many stacks do not queue behind one emulator process.
    pub fn start_routed(default: &str, by_region: &[(String, String)]) -> Self {
        let upstream = Arc::new(Routes {
            default: loopback_upstream(default),
            by_region: by_region
                .iter()
                .map(|(region, endpoint)| (region.clone(), loopback_upstream(endpoint)))
                .collect(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("listener address").port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("proxy runtime");
        let shared = Arc::new(Shared::default());
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn({
                let shared = shared.clone();
                move || runtime.block_on(serve(listener, upstream, shared, stopped))
            })
            .expect("proxy thread");
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        let rates = [
            faults.throttle_rate,
            faults.server_error_rate,
            faults.reset_rate,
        ];
        assert!(
            rates.iter().all(|r| (0.0..=1.0).contains(r)) && rates.iter().sum::<f64>() <= 1.0,
            "fault rates are shares of all requests: {faults:?}"
        );
        let mut state = self.shared.lock();
        state.rng = SplitMix64(faults.seed);
        state.buckets.clear();
        state.faults = faults;
    }

    /// Simulates a crash of the client right after its k-th mutating call
    /// from now (1-based): that request is forwarded to moto but its response
    /// is dropped (connection closed), and every later request is refused
    /// (connection closed) until `recover()`.
    pub fn crash_after_mutations(&self, k: usize) {
        assert!(k >= 1, "k is 1-based");
        let mut state = self.shared.lock();
        state.crash_countdown = Some(k);
        state.crashed = false;
    }

    /// Clears the crash state; the faults stay as set.
    pub fn recover(&self) {
        let mut state = self.shared.lock();
        state.crash_countdown = None;
        state.crashed = false;
    }

    pub fn has_crashed(&self) -> bool {
        self.shared.lock().crashed
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.shared.lock().stats = ProxyStats::default();
    }

    /// Records every forwarded call from now on, in order (see `calls`).
    pub fn record_calls(&self) {
        self.shared.lock().calls = Some(Vec::new());
    }

    /// The forwarded calls recorded so far, in the order they arrived.
    pub fn calls(&self) -> Vec<ProxyCall> {
        self.shared.lock().calls.clone().unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The only address the proxy ever connects to.
fn loopback_upstream(upstream: &str) -> SocketAddr {
    let addr: SocketAddr = upstream
        .strip_prefix("http://")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("upstream must be http://127.0.0.1:<port>, not {upstream}"));
    assert!(
        addr.ip().is_loopback(),
        "upstream must be on loopback: {upstream}"
    );
    addr
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;
type Upstream = Client<HttpConnector, Full<Bytes>>;

#[derive(Default)]
struct Shared(Mutex<State>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the stats from the others.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Default)]
struct State {
    faults: Faults,
    rng: SplitMix64,
    stats: ProxyStats,
    /// Mutating calls left before the crash, while one is armed.
    crash_countdown: Option<usize>,
    crashed: bool,
    request_ids: u64,
    /// Tokens left and when they were counted, by service.
    buckets: BTreeMap<String, (f64, std::time::Instant)>,
    /// Forwarded calls, while recording.
    calls: Option<Vec<ProxyCall>>,
}

enum Verdict {
    Forward,
    Refuse,
    Throttle,
    ServerError,
    Reset,
}

impl State {
    fn decide(&mut self, call: &Call) -> Verdict {
        if call.control {
            return Verdict::Forward;
        }
        self.stats.requests += 1;
        if self.crashed {
            return Verdict::Refuse;
        }
        if let Some(rate) = self.faults.service_rate
            && !self.take_token(&call.service, rate)
        {
            self.stats.throttled += 1;
            return Verdict::Throttle;
        }
        let draw = self.rng.next_f64();
        let f = &self.faults;
        if draw < f.throttle_rate {
            self.stats.throttled += 1;
            return Verdict::Throttle;
        }
        if draw < f.throttle_rate + f.server_error_rate {
            self.stats.server_errors += 1;
            return Verdict::ServerError;
        }
        if draw < f.throttle_rate + f.server_error_rate + f.reset_rate {
            self.stats.resets += 1;
            return Verdict::Reset;
        }
        self.stats.forwarded += 1;
        *self.stats.by_action.entry(call.key()).or_default() += 1;
        if call.mutating {
            self.stats.mutating += 1;
            // Crashed from here on: this response and any still in flight are lost.
            match self.crash_countdown {
                Some(1) => {
                    self.crash_countdown = None;
                    self.crashed = true;
                }
                Some(n) => self.crash_countdown = Some(n - 1),
                None => {}
            }
        }
        Verdict::Forward
    }

    /// One token of `service`'s bucket, if it has one.
    fn take_token(&mut self, service: &str, rate: f64) -> bool {
        let now = std::time::Instant::now();
        let (tokens, counted) = self
            .buckets
            .entry(service.to_string())
            .or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*counted).as_secs_f64() * rate).min(rate);
        *counted = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn next_request_id(&mut self) -> String {
        self.request_ids += 1;
        format!("fa017000-0000-4000-8000-{:012x}", self.request_ids)
    }
}

/// Small, seedable and good enough to spread faults evenly.
#[derive(Default)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Returned by the service to make hyper close the connection without
/// writing a response.
#[derive(Debug)]
struct Closed(&'static str);

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection closed by the proxy: {}", self.0)
    }
}

impl std::error::Error for Closed {}

/// `<id>` of the `app/<id>` token the AWS SDK puts in its User-Agent.
fn app_id(headers: &HeaderMap) -> String {
    ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .flat_map(|agent| agent.split(' '))
        .find_map(|token| token.strip_prefix("app/"))
        .unwrap_or_default()
        .to_string()
}

/// Where requests go: by the region they are signed for, else `default`;
/// a global service's always to `default`, since AWS keeps one state for
/// it whatever region asks (with a custom endpoint the SDK signs IAM,
/// CloudFront and Budgets for the client's region, so the region alone
/// would scatter one account's roles over every server).
struct Routes {
    default: SocketAddr,
    by_region: BTreeMap<String, SocketAddr>,
}

/// Services whose state is the account's, not a region's.
const GLOBAL_SERVICES: &[&str] = &["iam", "cloudfront", "budgets"];

impl Routes {
    fn pick(&self, headers: &HeaderMap) -> SocketAddr {
        // `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ...`
        let scope: Vec<&str> = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("Credential=").nth(1))
            .map(|scope| scope.split('/').collect())
            .unwrap_or_default();
        match (scope.get(2), scope.get(3)) {
            (_, Some(service)) if GLOBAL_SERVICES.contains(service) => self.default,
            (Some(region), _) => self.by_region.get(*region).copied().unwrap_or(self.default),
            _ => self.default,
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: Arc<Routes>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "fault proxy cannot listen");
            return;
        }
    };
    let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.lock().stats.connections += 1;
                    stream
                }
                Err(error) => {
                    // E.g. out of file descriptors: back off rather than spin.
                    tracing::warn!(%error, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = {
            let (shared, client) = (shared.clone(), client.clone());
            let upstream = upstream.clone();
            service_fn(move |req| handle(req, upstream.clone(), shared.clone(), client.clone()))
        };
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "fault proxy connection ended");
            }
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: Arc<Routes>,
    shared: Arc<Shared>,
    client: Upstream,
) -> Result<Response<ProxyBody>, Closed> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::debug!(%error, "fault proxy could not read a request body");
            return Err(Closed("unreadable request"));
        }
    };
    let call = Call::identify(&parts, &body);
    let (verdict, latency, request_id) = {
        let mut state = shared.lock();
        let verdict = state.decide(&call);
        if let (Verdict::Forward, false, Some(calls)) =
            (&verdict, call.control, state.calls.as_mut())
        {
            calls.push(ProxyCall {
                app: app_id(&parts.headers),
                action: call.key(),
                text: format!(
                    "{} {}",
                    parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
                    String::from_utf8_lossy(&body)
                ),
            });
        }
        (verdict, state.faults.latency, state.next_request_id())
    };
    if matches!(verdict, Verdict::Refuse) {
        return Err(Closed("client crashed"));
    }
    if !latency.is_zero() && !call.control {
        tokio::time::sleep(latency).await;
    }
    match verdict {
        Verdict::Throttle => Ok(fault_response(&call, Fault::Throttling, &request_id)),
        Verdict::ServerError => Ok(fault_response(&call, Fault::Internal, &request_id)),
        Verdict::Reset | Verdict::Refuse => Err(Closed("injected reset")),
        Verdict::Forward => {
            let to = upstream.pick(&parts.headers);
            forward(parts, body, to, &shared, &client).await
        }
    }
}

async fn forward(
    parts: Parts,
    body: Bytes,
    upstream: SocketAddr,
    shared: &Shared,
    client: &Upstream,
) -> Result<Response<ProxyBody>, Closed> {
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let Ok(uri) = format!("http://{upstream}{path}").parse::<Uri>() else {
        return Err(Closed("unroutable request target"));
    };
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method;
    *request.uri_mut() = uri;
    // The Host header stays as sent: moto routes S3 virtual-hosted buckets by it.
    *request.headers_mut() = end_to_end(parts.headers);
    let response = match client.request(request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "fault proxy upstream request failed");
            return Ok(plain(StatusCode::BAD_GATEWAY, "upstream unreachable"));
        }
    };
    if shared.lock().crashed {
        // Let moto finish the call, then lose the answer, as a dead client would.
        let _ = response.into_body().collect().await;
        return Err(Closed("client crashed"));
    }
    let (mut head, body) = response.into_parts();
    head.headers = end_to_end(head.headers);
    Ok(Response::from_parts(head, body.boxed()))
}

/// Drops hop-by-hop headers; hyper frames each side itself. `Expect` goes
/// too: the body has already been read.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::EXPECT,
        HeaderName::from_static("keep-alive"),
    ] {
        headers.remove(name);
    }
    headers
}

/// How a call is carried on the wire, which decides the error shape.
#[derive(Debug, PartialEq)]
enum Wire {
    /// EC2's own query dialect: `<Response><Errors><Error>`.
    Ec2Query,
    /// AWS Query and wrapped REST-XML (CloudFront): `<ErrorResponse><Error>`.
    XmlWrapped,
    /// AWS JSON 1.0/1.1, answered in the request's own content type.
    Json(HeaderValue),
    /// Smithy RPC v2 CBOR.
    Cbor,
    /// S3's unwrapped `<Error>`.
    S3,
}

#[derive(Debug)]
struct Call {
    service: String,
    action: String,
    wire: Wire,
    mutating: bool,
    /// moto's own API (`/moto-api/`): never faulted or counted.
    control: bool,
}

impl Call {
    fn identify(parts: &Parts, body: &[u8]) -> Self {
        let headers = &parts.headers;
        let path = parts.uri.path();
        let service = signing_service(headers).unwrap_or("unknown").to_string();
        let control = path.starts_with("/moto-api/");
        let rpc = |wire, action: &str| Self {
            mutating: is_mutating(action),
            action: action.to_string(),
            service: service.clone(),
            wire,
            control,
        };
        if let Some(target) = header_str(headers, "x-amz-target") {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/x-amz-json-1.1"));
            let action = target.rsplit('.').next().unwrap_or(target);
            return rpc(Wire::Json(content_type), action);
        }
        if header_str(headers, "smithy-protocol") == Some("rpc-v2-cbor") {
            let action = path.rsplit("/operation/").next().unwrap_or(path);
            return rpc(Wire::Cbor, action);
        }
        let form = header_str(headers, "content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if let Some(action) = form.then(|| form_action(body)).flatten() {
            let wire = if service == "ec2" {
                Wire::Ec2Query
            } else {
                Wire::XmlWrapped
            };
            return rpc(wire, action);
        }
        Self {
            action: format!("{} {path}", parts.method),
            wire: if service == "s3" {
                Wire::S3
            } else {
                Wire::XmlWrapped
            },
            mutating: matches!(
                parts.method,
                Method::PUT | Method::POST | Method::DELETE | Method::PATCH
            ),
            service,
            control,
        }
    }

    fn key(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The service from the SigV4 credential scope:
/// `Credential=AKID/20260101/us-east-1/ec2/aws4_request`.
fn signing_service(headers: &HeaderMap) -> Option<&str> {
    let auth = header_str(headers, "authorization")?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// `Action=<Op>` of an AWS Query form body.
fn form_action(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
}

/// The same notion of "mutating" the operator's own call counter uses.
fn is_mutating(action: &str) -> bool {
    stackops::aws::calls::is_mutating(action)
}

#[derive(Clone, Copy)]
enum Fault {
    Throttling,
    Internal,
}

/// The error the real service sends, in its protocol's shape, with the
/// codes the SDK's retry classifier knows (throttling or transient 5xx).
fn fault_response(call: &Call, fault: Fault, request_id: &str) -> Response<ProxyBody> {
    use Fault::{Internal, Throttling};
    let (status, content_type, body): (u16, HeaderValue, Bytes) = match (&call.wire, fault) {
        (Wire::Ec2Query, fault) => {
            let (status, code, message) = match fault {
                Throttling => (503, "RequestLimitExceeded", "Request limit exceeded."),
                Internal => (500, "InternalError", "An internal error has occurred."),
            };
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                 <Code>{code}</Code><Message>{message}</Message></Error></Errors>\
                 <RequestID>{request_id}</RequestID></Response>"
            );
            (status, xml_type(), xml.into())
        }
        (Wire::XmlWrapped, fault) => {
            let (status, kind, code, message) = match fault {
                Throttling => (400, "Sender", "Throttling", "Rate exceeded"),
                Internal => (
                    500,
                    "Receiver",
                    "InternalFailure",
                    "An internal error occurred.",
                ),
            };
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>\
                 <Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            );
            (status, xml_type(), xml.into())
        }
        (Wire::S3, fault) => {
            let (status, code, message) = match fault {
                Throttling => (503, "SlowDown", "Please reduce your request rate."),
                Internal => (
                    500,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                ),
            };
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>{request_id}</RequestId>\
                 <HostId>{request_id}</HostId></Error>"
            );
            (status, xml_type(), xml.into())
        }
        (Wire::Json(content_type), fault) => {
            let (status, code, message) = json_error(fault);
            let json = format!(r#"{{"__type":"{code}","message":"{message}"}}"#);
            (status, content_type.clone(), json.into())
        }
        (Wire::Cbor, fault) => {
            let (status, code, message) = json_error(fault);
            let mut cbor = vec![0xa2]; // a map of two text-keyed entries
            for text in ["__type", code, "message", message] {
                cbor_text(&mut cbor, text);
            }
            (
                status,
                HeaderValue::from_static("application/cbor"),
                cbor.into(),
            )
        }
    };
    let mut response = Response::new(Full::new(body).map_err(never).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(id) = HeaderValue::from_str(request_id) {
        let name = if call.wire == Wire::S3 {
            "x-amz-request-id"
        } else {
            "x-amzn-requestid"
        };
        headers.insert(name, id);
    }
    if call.wire == Wire::Cbor {
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    response
}

fn json_error(fault: Fault) -> (u16, &'static str, &'static str) {
    match fault {
        Fault::Throttling => (400, "ThrottlingException", "Rate exceeded"),
        Fault::Internal => (500, "InternalFailure", "An internal error occurred."),
    }
}

fn xml_type() -> HeaderValue {
    HeaderValue::from_static("text/xml;charset=UTF-8")
}

/// A CBOR text string (major type 3) of up to 65535 bytes.
fn cbor_text(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    match len {
        0..=23 => out.push(0x60 | len as u8),
        24..=255 => out.extend([0x78, len as u8]),
        _ => {
            out.push(0x79);
            out.extend((len as u16).to_be_bytes());
        }
    }
    out.extend(text.as_bytes());
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(never)
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

fn never(never: Infallible) -> hyper::Error {
    match never {}
}
