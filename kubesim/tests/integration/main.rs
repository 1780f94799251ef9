//! Integration tests: real clients (kube-rs, kubectl) against kubesim.

mod api;
mod binary;
mod common;
mod controller;
mod kubectl;
mod rbac;
mod ssa;
mod watch;
