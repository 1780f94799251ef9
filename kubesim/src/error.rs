//! API errors, rendered as `metav1.Status` bodies shaped like kube-apiserver's.

use serde_json::{Value, json};

/// One field-level cause of an `Invalid` error (`details.causes[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// Field path in apiserver notation, e.g. `spec.replicas`.
    pub field: String,
    /// Message without the field prefix, e.g. `Invalid value: 11: ...`.
    pub message: String,
}

impl Cause {
    /// `<field>: <message>` as the apiserver prints a `field.Error`.
    pub fn render(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// Which object an error is about: `details` of the Status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub group: String,
    /// The resource (plural) for most errors; the Kind for `Invalid`, as upstream does.
    pub kind: String,
    pub name: String,
}

impl Subject {
    /// `widgets.example.com` / `configmaps` — the qualified resource used in messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{} \"{}\" not found", .0.qualified(), .0.name)]
    NotFound(Subject),
    #[error("{} \"{}\" already exists", .0.qualified(), .0.name)]
    AlreadyExists(Subject),
    #[error(
        "Operation cannot be fulfilled on {} \"{}\": {}",
        .subject.qualified(), .subject.name, .message
    )]
    Conflict { subject: Subject, message: String },
    #[error("{}", invalid_message(.subject, .causes))]
    Invalid {
        subject: Subject,
        causes: Vec<Cause>,
    },
    /// Server-side apply touching fields another manager owns.
    #[error("{message}")]
    ApplyConflict {
        subject: Subject,
        message: String,
        /// (message, field path) per conflicting field.
        causes: Vec<(String, String)>,
    },
    #[error("{0}")]
    BadRequest(String),
    /// A patch that could not be applied (e.g. a failed JSON patch `test`).
    #[error("the server rejected our request due to an error in our request")]
    UnprocessablePatch(String),
    #[error("{message}")]
    Forbidden { subject: Subject, message: String },
    #[error("{0}")]
    Expired(String),
    /// A continue token whose snapshot is compacted: the Status carries a
    /// new token that continues, inconsistently, from the latest version.
    #[error(
        "The provided continue parameter is too old to display a consistent list result. You \
         can start a new list without the continue parameter, or use the continue token in this \
         response to retrieve the remainder of the results. Continuing with the provided token \
         results in an inconsistent list - objects that were created, modified, or deleted \
         between the time the first chunk was returned and now may show up in the list."
    )]
    ExpiredContinue { next: String },
    /// A watch started from a compacted resourceVersion.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotSupported(String),
    #[error("the server could not find the requested resource")]
    NoResource,
    #[error("{0}")]
    Internal(String),
}

fn invalid_message(subject: &Subject, causes: &[Cause]) -> String {
    let head = format!("{} \"{}\" is invalid: ", subject.qualified(), subject.name);
    match causes {
        [one] => head + &one.render(),
        many => {
            let parts: Vec<String> = many.iter().map(Cause::render).collect();
            format!("{head}[{}]", parts.join(", "))
        }
    }
}

impl ApiError {
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound(_) | ApiError::NoResource => 404,
            ApiError::AlreadyExists(_)
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Forbidden { .. } => 403,
            ApiError::Expired(_) | ApiError::ExpiredContinue { .. } | ApiError::Gone { .. } => 410,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::MethodNotSupported(_) => 405,
            ApiError::Internal(_) => 500,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) | ApiError::NoResource => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::Expired(_) | ApiError::ExpiredContinue { .. } | ApiError::Gone { .. } => {
                "Expired"
            }
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::MethodNotSupported(_) => "MethodNotAllowed",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// The `metav1.Status` body for this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            ApiError::NotFound(s)
            | ApiError::AlreadyExists(s)
            | ApiError::Conflict { subject: s, .. }
            | ApiError::Forbidden { subject: s, .. } => Some(subject_details(s)),
            ApiError::Invalid { subject, causes } => {
                let mut d = subject_details(subject);
                d["causes"] = causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                Some(d)
            }
            ApiError::ApplyConflict {
                subject, causes, ..
            } => {
                let mut d = subject_details(subject);
                d["causes"] = causes
                    .iter()
                    .map(|(m, f)| json!({"reason": "FieldManagerConflict", "message": m, "field": f}))
                    .collect();
                Some(d)
            }
            ApiError::UnprocessablePatch(cause) => Some(json!({
                "causes": [{"reason": "UnexpectedServerResponse", "message": cause}]
            })),
            _ => None,
        };
        if let Some(d) = details {
            status["details"] = d;
        }
        if let ApiError::ExpiredContinue { next } = self {
            status["metadata"] = json!({"continue": next});
        }
        status
    }
}

/// A `metav1.Status` as upstream writes it: fields in the Go struct's
/// order (`kind`, `apiVersion`, `metadata`, `status`, `message`, `reason`,
/// `details`, `code`; details and causes likewise), and the newline Go's
/// JSON encoder ends every body with.
pub fn status_body(status: &Value) -> Vec<u8> {
    const STATUS: &[&str] = &[
        "kind",
        "apiVersion",
        "metadata",
        "status",
        "message",
        "reason",
        "details",
        "code",
    ];
    const DETAILS: &[&str] = &[
        "name",
        "group",
        "kind",
        "uid",
        "causes",
        "retryAfterSeconds",
    ];
    const CAUSE: &[&str] = &["reason", "message", "field"];
    fn ordered(
        value: &Value,
        order: &[&str],
        out: &mut String,
        nested: &dyn Fn(&str, &Value, &mut String),
    ) {
        let Value::Object(map) = value else {
            out.push_str(&value.to_string());
            return;
        };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
        out.push('{');
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String((*key).clone()).to_string());
            out.push(':');
            nested(key, &map[*key], out);
        }
        out.push('}');
    }
    let mut out = String::new();
    ordered(status, STATUS, &mut out, &|key, value, out| {
        if key != "details" {
            out.push_str(&value.to_string());
            return;
        }
        ordered(value, DETAILS, out, &|key, value, out| match (key, value) {
            ("causes", Value::Array(causes)) => {
                out.push('[');
                for (i, cause) in causes.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    ordered(cause, CAUSE, out, &|_, v, out| out.push_str(&v.to_string()));
                }
                out.push(']');
            }
            _ => out.push_str(&value.to_string()),
        });
    });
    out.push('\n');
    out.into_bytes()
}

fn subject_details(s: &Subject) -> Value {
    let mut d = serde_json::Map::new();
    if !s.name.is_empty() {
        d.insert("name".into(), s.name.clone().into());
    }
    if !s.group.is_empty() {
        d.insert("group".into(), s.group.clone().into());
    }
    d.insert("kind".into(), s.kind.clone().into());
    Value::Object(d)
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn status_bodies_keep_go_field_order_and_end_with_a_newline() {
        let error = ApiError::Invalid {
            subject: Subject {
                group: "test.kubesim.io".into(),
                kind: "widgets".into(),
                name: "a".into(),
            },
            causes: vec![Cause {
                reason: "FieldValueInvalid",
                field: "spec.size".into(),
                message: "Invalid value: 0".into(),
            }],
        };
        let body = String::from_utf8(status_body(&error.status())).unwrap();
        assert!(body.ends_with("}\n"), "{body}");
        let at = |key: &str| body.find(&format!("\"{key}\":")).unwrap();
        let order = [
            "kind",
            "apiVersion",
            "metadata",
            "status",
            "message",
            "reason",
            "details",
            "code",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{body}");
        assert!(body.contains(r#""details":{"name":"a","group":"test.kubesim.io","kind":"widgets","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: 0","field":"spec.size"}]}"#), "{body}");
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed, error.status());
    }
}
