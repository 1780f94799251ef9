//! HTTP/1.1 front end: request routing as kube-apiserver's RequestInfo
//! resolver does it, JSON bodies, streaming watches, request logging.

use crate::discovery;
use crate::error::ApiError;
use crate::patch::PatchType;
use crate::requests::{RequestLog, RequestRecord};
use crate::resources::ResourceInfo;
use crate::rest::{self, DeleteOptions, Deleted, ListOptions, Sub, WriteOptions};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::Store;
use crate::table;
use crate::watch::{self, WatchParams};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub type Body = BoxBody<Bytes, Infallible>;

/// State shared by every connection.
pub struct Shared {
    pub store: Arc<Mutex<Store>>,
    pub log: Mutex<RequestLog>,
    /// Wakes the garbage collector after writes.
    pub gc: Notify,
    pub addr: SocketAddr,
    pub bookmark_interval: Duration,
}

enum Reply {
    Json(u16, Value),
    /// JSON with a specific media type (aggregated discovery).
    Typed(&'static str, Value),
    /// Plain text (health checks answer `ok`).
    Text(&'static str),
    Stream(tokio::sync::mpsc::Receiver<Bytes>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Json(e.code(), e.status())
    }
}

/// What the request was, for the log.
#[derive(Default)]
struct Info {
    verb: String,
    resource: String,
    subresource: String,
}

struct Req {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
    /// `Impersonate-User`/`Impersonate-Group`: the request is authorized by RBAC.
    impersonate: Option<crate::authz::User>,
    body: Bytes,
    /// Warnings for the response (`Warning` headers).
    warnings: crate::decode::Warnings,
}

impl Req {
    fn param(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.param(k), Some("true" | "1"))
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        // Protobuf is what kubectl's typed commands send; kubesim reads the
        // few objects of `kubectl create <generator>` and refuses the rest.
        let media = self.content_type.split(';').next().unwrap_or("").trim();
        if media == "application/vnd.kubernetes.protobuf"
            && let Some(decoded) = crate::protobuf::object(&self.body)
        {
            return decoded.map_err(|e| {
                ApiError::UnsupportedMediaType(format!(
                    "kubesim could not fully decode the protobuf body: {e}"
                ))
            });
        }
        if !media.is_empty() && media != "application/json" && !media.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json \
                 (kubesim does not decode {media})"
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        })
    }

    fn wants_table(&self) -> bool {
        self.accept.contains("as=Table")
    }

    fn wants_metadata(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }

    /// `obj` (an object or a list) in the form the Accept header asks for.
    fn shaped(&self, res: &ResourceInfo, obj: Value) -> Value {
        if self.wants_table() {
            table::to_table(res, &obj)
        } else if self.wants_metadata() {
            crate::partial::to_partial(&obj)
        } else {
            obj
        }
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let given = self.param("fieldManager");
        // Upstream names an unnamed writer after its User-Agent's product.
        let from_agent = self.user_agent.split('/').next().unwrap_or("").trim();
        let options_kind = match self.method {
            Method::POST => "CreateOptions",
            Method::PUT => "UpdateOptions",
            _ => "PatchOptions",
        };
        let media = self.content_type.split(';').next().unwrap_or("").trim();
        let json_body = media.is_empty() || media == "application/json" || media.ends_with("+json");
        Ok(WriteOptions {
            dry_run: self.param("dryRun").is_some(),
            field_validation: crate::decode::FieldValidation::parse(
                self.param("fieldValidation"),
                options_kind,
            )?,
            body_fields: if json_body {
                crate::decode::body_fields(&self.body, self.method != Method::PATCH)
            } else {
                Default::default()
            },
            warnings: self.warnings.clone(),
            field_manager: given.map(String::from).unwrap_or_else(|| {
                if from_agent.is_empty() {
                    "unknown".into()
                } else {
                    from_agent.into()
                }
            }),
            field_manager_given: given.is_some(),
            force: self.flag("force"),
            managed_fields_set: false,
        })
    }
}

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let accept = header(header::ACCEPT);
    let content_type = header(header::CONTENT_TYPE);
    let user_agent = header(header::USER_AGENT);
    let impersonate = req
        .headers()
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(|name| {
            let groups = req
                .headers()
                .get_all("impersonate-group")
                .iter()
                .filter_map(|g| g.to_str().ok().map(String::from))
                .collect();
            crate::authz::User::impersonated(name, groups)
        });
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let r = Req {
        method: method.clone(),
        query: form_urlencoded::parse(raw_query.as_bytes())
            .into_owned()
            .collect(),
        path: path.clone(),
        accept,
        content_type: content_type.clone(),
        user_agent,
        impersonate,
        body,
        warnings: Default::default(),
    };
    let mut info = Info::default();
    let reply = route(&shared, &r, &mut info);
    let code = match &reply {
        Reply::Json(c, _) => *c,
        Reply::Typed(..) | Reply::Text(_) | Reply::Stream(_) => 200,
    };
    if !path.starts_with("/kubesim/") {
        tracing::debug!(%method, %path, code, verb = %info.verb, "request");
        shared.log.lock().expect("log lock").push(RequestRecord {
            method: method.to_string(),
            verb: info.verb.clone(),
            path,
            query: raw_query,
            code,
            resource: info.resource,
            subresource: info.subresource,
            patch_type: if method == Method::PATCH {
                content_type
            } else {
                String::new()
            },
            user_agent: r.user_agent.clone(),
            user: r
                .impersonate
                .as_ref()
                .map(|u| u.name.clone())
                .unwrap_or_default(),
        });
    }
    if matches!(
        info.verb.as_str(),
        "create" | "update" | "patch" | "delete" | "deletecollection"
    ) {
        shared.gc.notify_one();
    }
    Ok(match reply {
        Reply::Json(code, v) => {
            let body = if v["kind"] == "Status" {
                crate::error::status_body(&v)
            } else {
                serde_json::to_vec(&v).unwrap_or_default()
            };
            let mut response = Response::builder()
                .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json");
            for warning in r.warnings.take() {
                // A field name that is not valid in a header is not worth a failed response.
                if let Ok(value) =
                    header::HeaderValue::from_str(&crate::decode::Warnings::header_value(&warning))
                {
                    response = response.header(header::WARNING, value);
                }
            }
            response
                .body(Full::new(Bytes::from(body)).boxed())
                .expect("valid response")
        }
        Reply::Typed(media, v) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, media)
            .body(Full::new(Bytes::from(serde_json::to_vec(&v).unwrap_or_default())).boxed())
            .expect("valid response"),
        Reply::Text(text) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(text)).boxed())
            .expect("valid response"),
        Reply::Stream(rx) => {
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-cache, private")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .expect("valid response")
        }
    })
}

fn route(shared: &Shared, r: &Req, info: &mut Info) -> Reply {
    let segments: Vec<&str> = r
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["kubesim", "requests"] => {
            let log = shared.log.lock().expect("log lock");
            let writes = log.records().iter().filter(|x| x.is_write()).count();
            Reply::Json(
                200,
                json!({"requests": log.records(), "counts": log.counts(), "writes": writes}),
            )
        }
        ["kubesim", "reset-counters"] if r.method == Method::POST => {
            shared.log.lock().expect("log lock").clear();
            Reply::Json(200, json!({"reset": true}))
        }
        ["version"] => discovery_reply(info, discovery::version()),
        ["healthz"] | ["livez"] | ["readyz"] => {
            info.verb = "other".into();
            Reply::Text("ok")
        }
        ["openapi", "v3"] => {
            let store = shared.store.lock().expect("store lock");
            discovery_reply(info, crate::openapi::root(&store.registry))
        }
        ["openapi", "v3", "api", version] | ["openapi", "v3", "apis", _, version] => {
            let group = if segments[2] == "api" {
                ""
            } else {
                segments[3]
            };
            let store = shared.store.lock().expect("store lock");
            match crate::openapi::group_version(&store.registry, group, version) {
                Some(doc) => discovery_reply(info, doc),
                None => not_found(info),
            }
        }
        ["api"] | ["apis"] if discovery::wants_aggregated(&r.accept) => {
            info.verb = "discovery".into();
            let store = shared.store.lock().expect("store lock");
            let doc = discovery::aggregated(&store.registry, segments[0] == "api");
            Reply::Typed(discovery::AGGREGATED, doc)
        }
        ["api"] => discovery_reply(info, discovery::core_versions(&shared.addr.to_string())),
        ["apis"] => {
            let store = shared.store.lock().expect("store lock");
            discovery_reply(info, discovery::groups(&store.registry))
        }
        ["apis", group] => {
            let store = shared.store.lock().expect("store lock");
            match discovery::group(&store.registry, group) {
                Some(doc) => discovery_reply(info, doc),
                None => not_found(info),
            }
        }
        ["api", version, rest @ ..] => resource_request(shared, r, info, "", version, rest),
        ["apis", group, version, rest @ ..] => {
            resource_request(shared, r, info, group, version, rest)
        }
        _ => not_found(info),
    }
}

fn discovery_reply(info: &mut Info, doc: Value) -> Reply {
    info.verb = "discovery".into();
    Reply::Json(200, doc)
}

fn not_found(info: &mut Info) -> Reply {
    if info.verb.is_empty() {
        info.verb = "other".into();
    }
    ApiError::NoResource.into()
}

fn resource_request(
    shared: &Shared,
    r: &Req,
    info: &mut Info,
    group: &str,
    version: &str,
    parts: &[&str],
) -> Reply {
    if parts.is_empty() {
        let store = shared.store.lock().expect("store lock");
        return match discovery::resources(&store.registry, group, version) {
            Some(doc) => discovery_reply(info, doc),
            None => not_found(info),
        };
    }
    // kube-apiserver's RequestInfo rules: /namespaces/{ns}/{resource}/..., except
    // that /namespaces/{name}/status|finalize address the namespace itself.
    let mut namespace = None;
    let mut rest = parts;
    if parts[0] == "namespaces" && parts.len() > 1 {
        namespace = Some(parts[1]);
        if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
            rest = &parts[2..];
        }
    }
    let plural = rest[0];
    let name = rest.get(1).copied();
    let subresource = rest.get(2).copied();
    info.resource = plural.to_string();
    info.subresource = subresource.unwrap_or("").to_string();
    info.verb = verb(&r.method, name.is_some(), r.flag("watch"));
    if rest.len() > 3 {
        return not_found(info);
    }
    let resource = {
        let store = shared.store.lock().expect("store lock");
        store.registry.get(group, version, plural).cloned()
    };
    let Some(res) = resource else {
        return not_found(info);
    };
    // A namespaced resource is addressed by name only inside a namespace;
    // cluster-scoped resources never are.
    let ns = if res.namespaced { namespace } else { None };
    if res.namespaced && name.is_some() && ns.is_none() {
        return not_found(info);
    }
    if !res.namespaced && namespace.is_some() && plural != "namespaces" {
        return not_found(info);
    }
    let sub = match subresource {
        None => Sub::Main,
        Some("status") if res.status_subresource => Sub::Status,
        // Not served: scale, finalize, and any other subresource.
        Some(_) => return not_found(info),
    };
    if let Some(user) = &r.impersonate {
        let attrs = crate::authz::Attributes {
            verb: &info.verb,
            group: &res.group,
            resource: &res.plural,
            subresource: &info.subresource,
            // A namespace object is authorized within itself, as upstream's RequestInfo does.
            namespace: ns
                .or(if plural == "namespaces" { name } else { None })
                .unwrap_or(""),
            name: name.unwrap_or(""),
        };
        let store = shared.store.lock().expect("store lock");
        if let Err(e) = crate::authz::authorize(&store, user, &attrs) {
            return e.into();
        }
    }
    if res.review {
        if info.verb != "create" {
            return ApiError::MethodNotSupported(format!("{} is create-only", res.plural)).into();
        }
        let decoded = if r
            .content_type
            .starts_with("application/vnd.kubernetes.protobuf")
        {
            crate::protobuf::access_review(&r.body).ok_or_else(|| {
                ApiError::BadRequest("could not decode the protobuf access review".into())
            })
        } else {
            r.json_body()
        };
        let body = match decoded {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let store = shared.store.lock().expect("store lock");
        return Reply::Json(
            201,
            crate::authz::review(&store, &res.kind, body, r.impersonate.as_ref()),
        );
    }
    match dispatch(shared, r, &res, ns, name, sub, info) {
        Ok(reply) => reply,
        Err(e) => e.into(),
    }
}

fn verb(method: &Method, named: bool, watch: bool) -> String {
    match (method.as_str(), named) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "other",
    }
    .to_string()
}

fn list_options(r: &Req, res: &ResourceInfo) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: LabelSelector::parse(r.param("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(
            r.param("fieldSelector").unwrap_or(""),
            &res.selectable_fields,
        )?,
        limit: r.param("limit").and_then(|l| l.parse().ok()),
        continue_token: r.param("continue").map(String::from),
        exact_resource_version: match (r.param("resourceVersionMatch"), r.param("resourceVersion"))
        {
            (Some("Exact"), Some(rv)) => Some(
                rv.parse()
                    .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv}")))?,
            ),
            _ => None,
        },
    })
}

fn dispatch(
    shared: &Shared,
    r: &Req,
    res: &ResourceInfo,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Sub,
    info: &Info,
) -> Result<Reply, ApiError> {
    let ns_str = ns.unwrap_or("");
    let ok = |v: Value| Reply::Json(200, v);
    match (info.verb.as_str(), name) {
        ("watch", _) => {
            let mut fields = FieldSelector::parse(
                r.param("fieldSelector").unwrap_or(""),
                &res.selectable_fields,
            )?;
            if let Some(n) = name {
                fields = FieldSelector::parse(&format!("metadata.name={n}"), &[])?;
            }
            let since =
                match r.param("resourceVersion") {
                    None | Some("0") => None,
                    Some(v) => Some(v.parse::<u64>().map_err(|_| {
                        ApiError::BadRequest(format!("invalid resource version: {v}"))
                    })?),
                };
            let params = WatchParams {
                since,
                labels: LabelSelector::parse(r.param("labelSelector").unwrap_or(""))?,
                fields,
                allow_bookmarks: r.flag("allowWatchBookmarks"),
                send_initial_events: r.flag("sendInitialEvents"),
                timeout: r
                    .param("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map(Duration::from_secs),
                as_table: r.wants_table(),
            };
            let rx = watch::start(
                shared.store.clone(),
                res.clone(),
                ns.map(String::from),
                params,
                shared.bookmark_interval,
            );
            Ok(Reply::Stream(rx))
        }
        ("get", Some(n)) => {
            let store = shared.store.lock().expect("store lock");
            let obj = rest::get(&store, res, ns_str, n)?;
            Ok(ok(r.shaped(res, obj)))
        }
        ("list", None) => {
            let store = shared.store.lock().expect("store lock");
            let list = rest::list(&store, res, ns, &list_options(r, res)?)?;
            Ok(ok(r.shaped(res, list)))
        }
        ("create", None) => {
            if res.namespaced && ns.is_none() {
                return Err(ApiError::NoResource);
            }
            let body = r.json_body()?;
            let mut store = shared.store.lock().expect("store lock");
            let created = rest::create(&mut store, res, ns_str, body, &r.write_options()?)?;
            Ok(Reply::Json(201, created))
        }
        ("update", Some(n)) => {
            let body = r.json_body()?;
            let mut store = shared.store.lock().expect("store lock");
            Ok(ok(rest::update(
                &mut store,
                res,
                ns_str,
                n,
                body,
                sub,
                &r.write_options()?,
            )?))
        }
        ("patch", Some(n)) => {
            let body = rest::PatchBody {
                kind: PatchType::from_content_type(
                    &r.content_type,
                    res.custom,
                    res.apply_schema().is_some(),
                )?,
                body: &r.body,
            };
            let mut store = shared.store.lock().expect("store lock");
            // An apply that creates the object answers 201, as a create does.
            let existed = rest::get(&store, res, ns_str, n).is_ok();
            let patched = rest::patch(&mut store, res, ns_str, n, body, sub, &r.write_options()?)?;
            Ok(Reply::Json(if existed { 200 } else { 201 }, patched))
        }
        ("delete", Some(n)) => {
            let mut opts = DeleteOptions::from_body(&r.json_body()?);
            if let Some(p) = r.param("propagationPolicy") {
                opts.propagation = Some(p.to_string());
            }
            opts.dry_run |= r.param("dryRun").is_some();
            let mut store = shared.store.lock().expect("store lock");
            Ok(match rest::delete(&mut store, res, ns_str, n, &opts)? {
                Deleted::Pending(obj) => ok(obj),
                Deleted::Gone(status) => ok(status),
            })
        }
        ("deletecollection", None) => {
            let mut opts = DeleteOptions::from_body(&r.json_body()?);
            if let Some(p) = r.param("propagationPolicy") {
                opts.propagation = Some(p.to_string());
            }
            let mut store = shared.store.lock().expect("store lock");
            Ok(ok(rest::delete_collection(
                &mut store,
                res,
                ns,
                &list_options(r, res)?,
                &opts,
            )?))
        }
        _ => Err(ApiError::MethodNotSupported(format!(
            "the server does not allow this method on the requested resource ({} {})",
            r.method, r.path
        ))),
    }
}
