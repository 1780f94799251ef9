//! A stack's resources and their dependencies.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::context::Clients;
use super::resource::{Kind, Resource};

/// One resource of the stack and the keys it depends on.
pub struct Node<C> {
    pub key: String,
    pub resource: Box<dyn Resource<C>>,
    pub depends_on: Vec<String>,
}

impl<C: Clients> Node<C> {
    pub fn new(key: impl Into<String>, resource: impl Resource<C> + 'static) -> Self {
        Self {
            key: key.into(),
            resource: Box::new(resource),
            depends_on: Vec::new(),
        }
    }

    pub fn after<S: Into<String>>(mut self, deps: impl IntoIterator<Item = S>) -> Self {
        self.depends_on.extend(deps.into_iter().map(Into::into));
        self
    }

    pub fn kind(&self) -> Kind<C> {
        self.resource.kind()
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("duplicate node {0}")]
    Duplicate(String),
    #[error("{node} depends on unknown node {missing}")]
    UnknownDependency { node: String, missing: String },
    #[error(
        "{node} ({kind}, rank {rank}) depends on {dep} of higher rank {dep_rank}: teardown order would be wrong"
    )]
    RankOrder {
        node: String,
        kind: &'static str,
        rank: u8,
        dep: String,
        dep_rank: u8,
    },
    #[error("dependency cycle through {0}")]
    Cycle(String),
}

/// Nodes in a valid dependency order (every node after its dependencies),
/// and the kinds the stack may own resources of even without a node (so
/// that leftovers of a changed spec are found and removed).
pub struct Graph<C: 'static> {
    nodes: Vec<Node<C>>,
    owned: Vec<Kind<C>>,
}

impl<C: Clients> Graph<C> {
    /// Checks keys, dependencies and ranks, and orders the nodes.
    pub fn new(nodes: Vec<Node<C>>) -> Result<Self, GraphError> {
        let mut by_key: BTreeMap<&str, &Node<C>> = BTreeMap::new();
        for node in &nodes {
            if by_key.insert(&node.key, node).is_some() {
                return Err(GraphError::Duplicate(node.key.clone()));
            }
        }
        for node in &nodes {
            for dep in &node.depends_on {
                let Some(dep_node) = by_key.get(dep.as_str()) else {
                    return Err(GraphError::UnknownDependency {
                        node: node.key.clone(),
                        missing: dep.clone(),
                    });
                };
                if dep_node.kind().rank() > node.kind().rank() {
                    return Err(GraphError::RankOrder {
                        node: node.key.clone(),
                        kind: node.kind().name(),
                        rank: node.kind().rank(),
                        dep: dep.clone(),
                        dep_rank: dep_node.kind().rank(),
                    });
                }
            }
        }
        let order = topological_order(&nodes)?;
        let mut slots: Vec<Option<Node<C>>> = nodes.into_iter().map(Some).collect();
        let nodes = order
            .into_iter()
            .map(|i| slots[i].take().expect("each index once"))
            .collect();
        Ok(Self {
            nodes,
            owned: Vec::new(),
        })
    }

    /// The same graph with `node` in place of the node of its key, or
    /// added when there is none.
    pub fn with_node(self, node: Node<C>) -> Result<Self, GraphError> {
        let Self { mut nodes, owned } = self;
        nodes.retain(|n| n.key != node.key);
        nodes.push(node);
        let mut graph = Self::new(nodes)?;
        graph.owned = owned;
        Ok(graph)
    }

    pub fn nodes(&self) -> &[Node<C>] {
        &self.nodes
    }

    pub fn get(&self, key: &str) -> Option<&Node<C>> {
        self.nodes.iter().find(|n| n.key == key)
    }

    /// Also observe (and prune) resources of `kinds` when no node has them:
    /// a NAT mode switched to `none` leaves gateways no node describes.
    pub fn also_owns(mut self, kinds: impl IntoIterator<Item = Kind<C>>) -> Self {
        self.owned.extend(kinds);
        self
    }

    /// The mutating calls a create of the whole stack needs, by operation:
    /// what each node's `create` declares, from the blueprint alone. The
    /// baseline a create's actual calls are measured against.
    pub fn create_calls(&self) -> BTreeMap<&'static str, u64> {
        let mut calls = BTreeMap::new();
        for operation in self.nodes.iter().flat_map(|n| n.resource.create_calls()) {
            *calls.entry(operation).or_default() += 1;
        }
        calls
    }

    /// The distinct kinds of the nodes and of `also_owns`.
    pub fn kinds(&self) -> Vec<Kind<C>> {
        let mut seen = BTreeSet::new();
        self.nodes
            .iter()
            .map(Node::kind)
            .chain(self.owned.iter().copied())
            .filter(|k| seen.insert(k.name()))
            .collect()
    }
}

fn topological_order<C: Clients>(nodes: &[Node<C>]) -> Result<Vec<usize>, GraphError> {
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.as_str(), i))
        .collect();
    let mut state = vec![0u8; nodes.len()]; // 0 new, 1 visiting, 2 done
    let mut order = Vec::with_capacity(nodes.len());
    fn visit<C: Clients>(
        i: usize,
        nodes: &[Node<C>],
        index: &BTreeMap<&str, usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> Result<(), GraphError> {
        match state[i] {
            2 => return Ok(()),
            1 => return Err(GraphError::Cycle(nodes[i].key.clone())),
            _ => {}
        }
        state[i] = 1;
        for dep in &nodes[i].depends_on {
            visit(index[dep.as_str()], nodes, index, state, order)?;
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..nodes.len() {
        visit(i, nodes, &index, &mut state, &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::engine::calls::CallCounter;
    use crate::engine::{AwsError, Context, Deletion, Fields, Inputs, KindOps, Observed};

    #[derive(Clone)]
    struct NoClients(CallCounter);

    impl Clients for NoClients {
        fn calls(&self) -> &CallCounter {
            &self.0
        }
    }

    /// A kind of the given rank that AWS never holds.
    struct Rank(u8);

    static NETWORK: Rank = Rank(0);
    static SUBNET: Rank = Rank(1);

    #[async_trait]
    impl KindOps<NoClients> for Rank {
        fn name(&self) -> &'static str {
            ["Network", "Subnet"][self.0 as usize]
        }
        fn rank(&self) -> u8 {
            self.0
        }
        async fn observe_all(&self, _: &Context<NoClients>) -> Result<Vec<Observed>, AwsError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _: &Context<NoClients>, _: &Observed) -> Result<Deletion, AwsError> {
            Ok(Deletion::Done)
        }
    }

    struct Of(&'static Rank);

    #[async_trait]
    impl Resource<NoClients> for Of {
        fn kind(&self) -> Kind<NoClients> {
            self.0
        }
        fn desired(&self, _: &str, _: &Context<NoClients>, _: &Inputs) -> Fields {
            Fields::new()
        }
        async fn create(
            &self,
            key: &str,
            _: &Context<NoClients>,
            _: &Inputs,
        ) -> Result<Observed, AwsError> {
            Ok(Observed {
                component: key.into(),
                ..Observed::default()
            })
        }
        fn create_calls(&self) -> Vec<&'static str> {
            vec![["CreateNetwork", "CreateSubnet"][self.0.0 as usize]]
        }
        async fn update(
            &self,
            _: &str,
            _: &Context<NoClients>,
            _: &Inputs,
            _: &Observed,
            _: &[crate::engine::Change],
        ) -> Result<(), AwsError> {
            Ok(())
        }
    }

    fn vpc(key: &str) -> Node<NoClients> {
        Node::new(key, Of(&NETWORK))
    }

    fn subnet(key: &str) -> Node<NoClients> {
        Node::new(key, Of(&SUBNET))
    }

    #[test]
    fn nodes_come_after_their_dependencies() {
        let graph = Graph::new(vec![subnet("s").after(["vpc"]), vpc("vpc")]).unwrap();
        let keys: Vec<_> = graph.nodes().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["vpc", "s"]);
    }

    #[test]
    fn create_calls_are_summed_by_operation() {
        let graph = Graph::new(vec![subnet("a"), subnet("b"), vpc("vpc")]).unwrap();
        assert_eq!(
            graph.create_calls(),
            BTreeMap::from([("CreateNetwork", 1), ("CreateSubnet", 2)])
        );
    }

    #[test]
    fn bad_graphs_are_refused() {
        assert_eq!(
            Graph::new(vec![vpc("a"), vpc("a")]).err(),
            Some(GraphError::Duplicate("a".into()))
        );
        assert!(matches!(
            Graph::new(vec![subnet("s").after(["nope"])]).err(),
            Some(GraphError::UnknownDependency { .. })
        ));
        assert!(matches!(
            Graph::new(vec![vpc("a").after(["b"]), vpc("b").after(["a"])]).err(),
            Some(GraphError::Cycle(_))
        ));
        // A rank-0 node may not depend on a rank-1 node.
        assert!(matches!(
            Graph::new(vec![subnet("s"), vpc("v").after(["s"])]).err(),
            Some(GraphError::RankOrder { .. })
        ));
    }
}
