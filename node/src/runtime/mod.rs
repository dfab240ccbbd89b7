//! The Wasm pod runtime (DESIGN §5): engine, images, pods, volumes, logs.
