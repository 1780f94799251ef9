//! Metadata-only answers (`Accept: application/json;as=PartialObjectMetadata`
//! or `...;as=PartialObjectMetadataList`), as `Api::list_metadata` and
//! `get_metadata` ask: only each object's metadata, so a client that needs
//! names and labels does not fetch and parse every status.

use serde_json::{Value, json};

/// The metadata of an object, or of every item of a list.
pub fn to_partial(list_or_object: &Value) -> Value {
    let partial = |obj: &Value| json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]});
    match list_or_object["items"].as_array() {
        Some(items) => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_or_object["metadata"],
            "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        None => partial(list_or_object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_keeps_only_each_items_metadata() {
        let list = json!({
            "kind": "EcommerceStackList", "apiVersion": "stackops.io/v1alpha1",
            "metadata": {"resourceVersion": "7"},
            "items": [{"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {}, "status": {"big": true}}],
        });
        let partial = to_partial(&list);
        assert_eq!(partial["kind"], "PartialObjectMetadataList");
        assert_eq!(partial["metadata"]["resourceVersion"], "7");
        assert_eq!(partial["items"][0]["metadata"]["labels"]["x"], "1");
        assert!(partial["items"][0].get("status").is_none());
        assert_eq!(
            to_partial(&list["items"][0])["kind"],
            "PartialObjectMetadata"
        );
    }
}
