//! Regatta's control plane: the store, the API server, controllers and the node link.

pub mod apiserver;
pub mod config;
pub mod control_plane;
pub mod controllers;
pub mod nodelink;
pub mod pki;
pub mod store;
