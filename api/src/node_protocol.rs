//! Node ↔ orchestrator protocol (DESIGN §4): versioned, length-delimited messages on one QUIC control stream.
