//! Object storage: one map of every object, one resourceVersion counter for all
//! of them (as etcd has), and a bounded history of changes that watches replay.

use crate::resources::{GroupResource, Registry};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub gr: GroupResource,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change, as kept in the history and sent to watchers.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub type_: EventType,
    pub key: ObjectKey,
    pub object: Value,
    /// The object before a MODIFIED or DELETED change: lets a selector-filtered
    /// watch turn "stopped matching" into DELETED, as the apiserver's watch
    /// cache does, and lets lists read a past resourceVersion.
    pub old: Option<Value>,
}

/// A live watch: receives every event of one resource (optionally one namespace).
struct Watcher {
    gr: GroupResource,
    namespace: Option<String>,
    tx: mpsc::UnboundedSender<Arc<Event>>,
}

impl Watcher {
    fn wants(&self, key: &ObjectKey) -> bool {
        self.gr == key.gr
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| ns == &key.namespace)
    }
}

pub struct Store {
    rv: u64,
    objects: BTreeMap<ObjectKey, Value>,
    history: VecDeque<Arc<Event>>,
    history_cap: usize,
    /// Every event with rv > `compacted` is still in the history.
    compacted: u64,
    watchers: Vec<Watcher>,
    pub registry: Registry,
}

/// What a watch gets when it starts: the events it missed, then a live channel.
pub struct Subscription {
    pub backlog: Vec<Arc<Event>>,
    pub rx: mpsc::UnboundedReceiver<Arc<Event>>,
}

impl Store {
    pub fn new(history_cap: usize) -> Self {
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_cap: history_cap.max(1),
            compacted: 1,
            watchers: Vec::new(),
            registry: Registry::new(),
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of one resource, optionally in one namespace, in key order.
    pub fn range<'a>(
        &'a self,
        gr: &'a GroupResource,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        // Keys sort by resource, then namespace: start at the first that
        // can match rather than scanning every object of every resource.
        let first = ObjectKey {
            gr: gr.clone(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: String::new(),
        };
        self.objects
            .range(first..)
            .take_while(move |(k, _)| &k.gr == gr && namespace.is_none_or(|ns| ns == k.namespace))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter()
    }

    /// Writes a change: assigns the next resourceVersion, records it in the
    /// history and fans it out to watchers. Returns the object as stored.
    pub fn commit(&mut self, type_: EventType, key: ObjectKey, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let old = match type_ {
            EventType::Deleted => self.objects.remove(&key),
            _ => self.objects.insert(key.clone(), object.clone()),
        };
        let event = Arc::new(Event {
            rv: self.rv,
            type_,
            key,
            object: object.clone(),
            old,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_cap {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        self.watchers
            .retain(|w| !w.wants(&event.key) || w.tx.send(event.clone()).is_ok());
        object
    }

    /// The objects of one resource as they were at resourceVersion `at`,
    /// rebuilt by undoing the history; None once `at` has been compacted.
    /// Borrowed, not copied: a list of the latest version (nearly every
    /// list) costs no clone of the objects it does not return.
    pub fn snapshot<'a>(
        &'a self,
        gr: &'a GroupResource,
        namespace: Option<&'a str>,
        at: u64,
    ) -> Option<BTreeMap<&'a ObjectKey, &'a Value>> {
        if at < self.compacted {
            return None;
        }
        let wanted = |k: &ObjectKey| &k.gr == gr && namespace.is_none_or(|ns| ns == k.namespace);
        let mut objects: BTreeMap<&ObjectKey, &Value> = self.range(gr, namespace).collect();
        for e in self.history.iter().rev().take_while(|e| e.rv > at) {
            if !wanted(&e.key) {
                continue;
            }
            match (&e.type_, &e.old) {
                (EventType::Added, _) => {
                    objects.remove(&e.key);
                }
                (_, Some(old)) => {
                    objects.insert(&e.key, old);
                }
                (_, None) => {}
            }
        }
        Some(objects)
    }

    /// Starts a watch after `since`. Fails with the oldest resourceVersion still
    /// watchable when `since` has been compacted away.
    pub fn subscribe(
        &mut self,
        gr: &GroupResource,
        namespace: Option<&str>,
        since: u64,
    ) -> Result<Subscription, u64> {
        if since < self.compacted {
            return Err(self.compacted);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = Watcher {
            gr: gr.clone(),
            namespace: namespace.map(String::from),
            tx,
        };
        let backlog = self
            .history
            .iter()
            .filter(|e| e.rv > since && watcher.wants(&e.key))
            .cloned()
            .collect();
        self.watchers.push(watcher);
        Ok(Subscription { backlog, rx })
    }

    /// Stops serving a removed CRD's resource and ends the watches on it,
    /// as upstream does.
    pub fn unregister_crd(&mut self, group: &str, plural: &str) {
        self.registry.remove_crd(group, plural);
        let gr = GroupResource {
            group: group.into(),
            resource: plural.into(),
        };
        self.watchers.retain(|w| w.gr != gr);
    }

    /// Drops watchers whose client went away.
    pub fn prune_watchers(&mut self) {
        self.watchers.retain(|w| !w.tx.is_closed());
    }

    pub fn watcher_count(&self) -> usize {
        self.watchers.len()
    }

    /// The oldest resourceVersion a watch may start from.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }
}
