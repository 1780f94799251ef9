//! Everything one pass over one stack needs: who the stack is and the
//! clients (whose calls are counted for this pass).

use std::collections::BTreeMap;

use crate::api::common::DeletionPolicy;
pub use crate::identity::StackIdentity;

use super::calls::CallCounter;

/// The service clients a pass works with. The engine is generic over them
/// (the AWS layer supplies its own), and only needs the counter their calls
/// are counted in.
pub trait Clients: Clone + Send + Sync + 'static {
    fn calls(&self) -> &CallCounter;
    /// From now on, reads reach the cloud rather than answers shared with
    /// other stacks: a pass calls it before it writes anything.
    fn read_fresh(&self) {}
}

/// What the spec says about deleting data, when teardown has the spec.
/// Teardown otherwise works from AWS alone: the database's own deletion
/// protection flag and its `stackops.io/deletion-policy` tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataIntent {
    /// `spec.database.deletionProtection`: false lets teardown turn AWS's
    /// flag off, so a protected database can be released by editing the
    /// spec of a stack already being deleted.
    pub database_protection: Option<bool>,
    /// `spec.database.deletionPolicy`, over the tag.
    pub database_policy: Option<DeletionPolicy>,
    /// `spec.cache.deletionPolicy`; without the spec, a final snapshot.
    pub cache_policy: Option<DeletionPolicy>,
    /// The node keys a retained cache needs to keep serving (its subnet
    /// and parameter groups, security group, AUTH token, data subnets and
    /// VPC).
    pub cache_needs: Vec<String>,
    /// Each bucket's deletion policy, by node key, over the bucket's tag.
    pub bucket_policies: BTreeMap<String, DeletionPolicy>,
}

/// One pass's view of the world.
#[derive(Clone, Debug)]
pub struct Context<C> {
    pub identity: StackIdentity,
    pub region: String,
    pub clients: C,
    pub data: DataIntent,
    /// Resources the stack uses but did not create (an existing VPC and its
    /// subnets), by node key: their kinds find them by these ids, since
    /// they carry no stack tag, and never change or delete them.
    pub borrowed: BTreeMap<String, String>,
}

impl<C> Context<C> {
    pub fn new(identity: StackIdentity, region: impl Into<String>, clients: C) -> Self {
        Self {
            identity,
            region: region.into(),
            clients,
            data: DataIntent::default(),
            borrowed: BTreeMap::new(),
        }
    }

    /// The same context, with the resources the stack borrows by node key.
    pub fn with_borrowed(mut self, borrowed: BTreeMap<String, String>) -> Self {
        self.borrowed = borrowed;
        self
    }

    /// The same context, with the spec's word on deleting data.
    pub fn with_data_intent(mut self, data: DataIntent) -> Self {
        self.data = data;
        self
    }
}
