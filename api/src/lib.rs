//! Regatta's API types and the pure logic around them: the resource registry,
//! selectors, quantities, validation, defaulting, patching, Table printing and
//! OpenAPI documents.
//!
//! This crate does no I/O; the orchestrator and the node meet only here.

pub mod defaults;
pub mod node_protocol;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod registry;
pub mod selector;
pub mod stream_protocol;
pub mod table;
pub mod validation;

pub use k8s_openapi;
