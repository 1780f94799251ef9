//! Integration tests: real clients (kube-rs, kubectl) against kubesim.

mod api;
mod binary;
mod builtins;
mod common;
mod controller;
mod kubectl;
mod rbac;
mod ssa;
mod watch;
