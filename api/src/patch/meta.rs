//! Patch metadata of built-in types: which list fields merge by which key (the Go struct tags patchStrategy/patchMergeKey).
