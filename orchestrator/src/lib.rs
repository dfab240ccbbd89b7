//! Regatta's control plane: the store, the API server, controllers and the node link.

pub mod store;
