//! From a spec to what should exist in AWS: pure functions, no I/O. So far:
//! the subnet plan, deterministic resource names and the semantic checks
//! that no schema can express. The resource graph the engine walks is not
//! built yet (unfinished: it arrives with the engine).

pub mod naming;
pub mod network_plan;
pub mod validate;
