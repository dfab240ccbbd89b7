//! The node link's transport glue: `regatta_api::node_protocol` frames read from and
//! written to quinn streams. The orchestrator and the node meet in `api/` for the
//! message types and here for putting them on the wire, so neither copies the other.

pub mod wire;
