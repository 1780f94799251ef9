//! Reading stack manifests (YAML, one or more documents) into typed
//! resources, after the same admission checks the API server makes.

use serde_json::Value;
use thiserror::Error;

use kube::api::ObjectMeta;

use super::admission::Admission;
use super::common::{NetworkSpec, StackSettings};
use super::{BookingPlatform, EcommerceStack, FieldError, crds};

/// One stack manifest, typed.
#[derive(Clone, Debug)]
pub enum StackManifest {
    Ecommerce(Box<EcommerceStack>),
    Booking(Box<BookingPlatform>),
}

impl StackManifest {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ecommerce(_) => "EcommerceStack",
            Self::Booking(_) => "BookingPlatform",
        }
    }

    /// The settings every stack kind shares (region, policies, tags).
    pub fn settings(&self) -> &StackSettings {
        match self {
            Self::Ecommerce(s) => &s.spec.settings,
            Self::Booking(s) => &s.spec.settings,
        }
    }

    /// The network the stack builds in.
    pub fn network(&self) -> &NetworkSpec {
        match self {
            Self::Ecommerce(s) => &s.spec.network,
            Self::Booking(s) => &s.spec.network,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::Ecommerce(s) => &s.metadata,
            Self::Booking(s) => &s.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// Namespace, `default` when the manifest names none (as kubectl does).
    pub fn namespace(&self) -> &str {
        self.metadata().namespace.as_deref().unwrap_or("default")
    }
}

/// Why a manifest was refused.
#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("document {index}: not valid YAML: {message}")]
    Yaml { index: usize, message: String },
    #[error("document {index}: apiVersion {found:?} is not stackops.io/v1alpha1")]
    ApiVersion { index: usize, found: String },
    #[error("document {index}: kind {found:?} is not EcommerceStack or BookingPlatform")]
    Kind { index: usize, found: String },
    #[error("{described}: {}", list(.errors))]
    Invalid {
        described: String,
        errors: Vec<FieldError>,
    },
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ManifestError {
    /// The field errors, when the manifest was refused for its content.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// The YAML documents of `text` as JSON values, read as kubectl reads them
/// (YAML 1.1 scalars: unquoted `no` is `false`); empty documents are skipped.
pub fn documents(text: &str) -> Vec<Result<Value, ManifestError>> {
    super::yaml::documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, doc)| {
            doc.map_err(|e| ManifestError::Yaml {
                index: index + 1,
                message: e.to_string(),
            })
        })
        .filter(|doc| !matches!(doc, Ok(Value::Null)))
        .collect()
}

/// Admits and types one document (1-based `index`, for messages).
pub fn admit(index: usize, object: &Value) -> Result<StackManifest, ManifestError> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if api_version != format!("{}/{}", super::GROUP, super::VERSION) {
        return Err(ManifestError::ApiVersion {
            index,
            found: api_version.into(),
        });
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let crd = crds::all()
        .into_iter()
        .find(|crd| crd.spec.names.kind == kind)
        .ok_or_else(|| ManifestError::Kind {
            index,
            found: kind.into(),
        })?;
    let admission = Admission::new(&crd);
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let errors = admission.check(object, None);
    if !errors.is_empty() {
        return Err(ManifestError::Invalid {
            described: admission.describe(name),
            errors,
        });
    }
    let typed = match kind {
        "EcommerceStack" => {
            serde_json::from_value(object.clone()).map(|s| StackManifest::Ecommerce(Box::new(s)))
        }
        _ => serde_json::from_value(object.clone()).map(|s| StackManifest::Booking(Box::new(s))),
    };
    // Admission already proved the shape; a failure here is a bug in the types.
    typed.map_err(|e| ManifestError::Invalid {
        described: admission.describe(name),
        errors: vec![FieldError::new("", e.to_string())],
    })
}

/// Every stack in `text`, or every reason it was refused.
pub fn load(text: &str) -> Result<Vec<StackManifest>, Vec<ManifestError>> {
    let mut stacks = Vec::new();
    let mut errors = Vec::new();
    for (i, doc) in documents(text).into_iter().enumerate() {
        match doc.and_then(|object| admit(i + 1, &object)) {
            Ok(stack) => stacks.push(stack),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(stacks)
    } else {
        Err(errors)
    }
}
