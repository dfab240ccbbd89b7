//! Regatta's node daemon: runs Pods as groups of Wasm modules, each Pod in its
//! own network namespace with a real pod IP, joined to the control plane over QUIC.

pub mod agent;
pub mod daemon;
pub mod net;
pub mod pods;
pub mod runtime;
