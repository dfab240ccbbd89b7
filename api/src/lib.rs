//! Regatta's API types and the pure logic around them: the resource registry,
//! selectors, quantities, validation, defaulting and patching.
//!
//! This crate does no I/O; the orchestrator and the node meet only here.

pub mod registry;

pub use k8s_openapi;
