//! Images: what `image:` may name, how its bytes are fetched, and what shape
//! of Wasm they hold.
//!
//! Owns: parsing image references (`file:///path`, `http(s)://…`, each with
//! an optional `@sha256:<hex>` pin), fetching the bytes (size-limited),
//! telling a core module from a component by its 8-byte header, and sorting
//! a compiled artifact into a supported [`ModuleKind`].
//!
//! Invariant: an image whose bytes do not match its pin, that is not Wasm,
//! or that has no supported entry point never becomes a [`Compiled`], so it
//! can never run.

use std::path::PathBuf;

use wasmtime::Module;
use wasmtime::component::Component;

/// Why an image could not be turned into something runnable. Map to a
/// container's waiting reason with [`ImageError::reason`].
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The reference itself is malformed or uses an unsupported scheme.
    #[error("invalid image reference {image:?}: {reason}")]
    InvalidReference { image: String, reason: String },
    /// The bytes could not be fetched (I/O error, HTTP status, size limit).
    #[error("failed to pull image {url}: {reason}")]
    Pull { url: String, reason: String },
    /// The bytes do not hash to the pinned digest. Never run.
    #[error("image {image}: digest mismatch: pinned {expected}, fetched content is {actual}")]
    DigestMismatch {
        image: String,
        expected: String,
        actual: String,
    },
    /// The bytes are not a Wasm module or component.
    #[error("image {image} is not WebAssembly: {reason}")]
    NotWasm { image: String, reason: String },
    /// Valid-looking Wasm that wasmtime rejects.
    #[error("image {image}: invalid WebAssembly: {reason}")]
    Compile { image: String, reason: String },
    /// Valid Wasm without an entry point the node knows how to run.
    #[error(
        "image {image}: unsupported {shape}: {reason} (supported: a WASI p1 command exporting `_start`, a WASI p2 component exporting `wasi:cli/run`, or a `wasi:http` proxy exporting `wasi:http/incoming-handler`)"
    )]
    Unsupported {
        image: String,
        shape: &'static str,
        reason: String,
    },
}

impl ImageError {
    /// The Kubernetes waiting reason for a container whose image failed this way.
    pub fn reason(&self) -> &'static str {
        match self {
            ImageError::InvalidReference { .. } => "InvalidImageName",
            ImageError::Pull { .. } | ImageError::DigestMismatch { .. } => "ErrImagePull",
            ImageError::NotWasm { .. }
            | ImageError::Compile { .. }
            | ImageError::Unsupported { .. } => "InvalidImage",
        }
    }

    /// Whether pulling again later may succeed (the registry or file may
    /// change); bad references and pinned mismatches will not fix themselves.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ImageError::InvalidReference { .. })
    }
}

/// A parsed `image:` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    location: Location,
    digest: Option<String>,
    original: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    File(PathBuf),
    Http(String),
}

impl ImageRef {
    /// Parses `file:///abs/path[@sha256:<64 hex>]` or
    /// `http(s)://host/path[@sha256:<64 hex>]`.
    pub fn parse(image: &str) -> Result<ImageRef, ImageError> {
        let invalid = |reason: &str| ImageError::InvalidReference {
            image: image.to_string(),
            reason: reason.to_string(),
        };
        let (location, digest) = match image.rsplit_once("@sha256:") {
            Some((location, hex_digest)) => {
                let valid = hex_digest.len() == 64
                    && hex_digest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !valid {
                    return Err(invalid(
                        "the pin after @sha256: must be 64 lowercase hex digits",
                    ));
                }
                (location, Some(hex_digest.to_string()))
            }
            None => (image, None),
        };
        let location = if let Some(path) = location.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid(
                    "a file:// image needs an absolute path (file:///path/to/module.wasm)",
                ));
            }
            Location::File(PathBuf::from(path))
        } else if location.starts_with("http://") || location.starts_with("https://") {
            let url = reqwest::Url::parse(location).map_err(|e| invalid(&e.to_string()))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("the URL has no host"));
            }
            Location::Http(location.to_string())
        } else {
            return Err(invalid(
                "must start with file://, http:// or https:// (OCI references are not supported yet)",
            ));
        };
        Ok(ImageRef {
            location,
            digest,
            original: image.to_string(),
        })
    }

    /// The pinned sha256 (lowercase hex), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Where the bytes come from, without the pin (used in pull errors).
    pub fn url(&self) -> String {
        match &self.location {
            Location::File(path) => format!("file://{}", path.display()),
            Location::Http(url) => url.clone(),
        }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

/// Reads the image's bytes, at most `limit` of them.
pub(super) async fn fetch(
    image: &ImageRef,
    client: &reqwest::Client,
    limit: u64,
) -> Result<Vec<u8>, ImageError> {
    let pull_error = |reason: String| ImageError::Pull {
        url: image.url(),
        reason,
    };
    let too_large = || pull_error(format!("image is larger than the {limit}-byte limit"));
    match &image.location {
        Location::File(path) => {
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|e| pull_error(e.to_string()))?;
            if !meta.is_file() {
                return Err(pull_error("not a regular file".into()));
            }
            if meta.len() > limit {
                return Err(too_large());
            }
            tokio::fs::read(path)
                .await
                .map_err(|e| pull_error(e.to_string()))
        }
        Location::Http(url) => {
            let mut response = client
                .get(url)
                .send()
                .await
                .map_err(|e| pull_error(error_chain(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(pull_error(format!("GET returned HTTP {status}")));
            }
            if response.content_length().is_some_and(|len| len > limit) {
                return Err(too_large());
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| pull_error(error_chain(&e)))?
            {
                if bytes.len() as u64 + chunk.len() as u64 > limit {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// What the 8-byte preamble says: `\0asm`, then a 16-bit version and a
/// 16-bit layer (core modules: version 1, layer 0; components: layer 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WasmHeader {
    Core,
    Component,
}

impl WasmHeader {
    pub(super) fn detect(bytes: &[u8]) -> Result<WasmHeader, String> {
        let Some(preamble) = bytes.get(..8) else {
            return Err(format!(
                "{} bytes is shorter than the 8-byte Wasm header",
                bytes.len()
            ));
        };
        if &preamble[..4] != b"\0asm" {
            return Err(format!(
                "missing the \\0asm magic number (starts with {:02x?})",
                &preamble[..4]
            ));
        }
        let version = u16::from_le_bytes([preamble[4], preamble[5]]);
        let layer = u16::from_le_bytes([preamble[6], preamble[7]]);
        match (layer, version) {
            (0, 1) => Ok(WasmHeader::Core),
            (1, _) => Ok(WasmHeader::Component),
            _ => Err(format!(
                "unknown Wasm version {version} / layer {layer} (want a core module, version 1 layer 0, or a component, layer 1)"
            )),
        }
    }
}

/// A compiled module or component.
#[derive(Clone)]
pub(crate) enum Artifact {
    Core(Module),
    Component(Component),
}

/// The entry point a runnable image offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// A core module exporting `_start` (WASI preview 1 command).
    P1Command,
    /// A component exporting `wasi:cli/run` (WASI 0.2 command).
    P2Command,
    /// A component exporting `wasi:http/incoming-handler`: served by the node
    /// on the container's port, one instance per request.
    HttpProxy,
}

/// A pulled, verified and compiled image, shared by every container that
/// runs it.
pub struct Compiled {
    digest: String,
    kind: ModuleKind,
    pub(crate) artifact: Artifact,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("digest", &self.digest)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    pub(super) fn new(
        engine: &wasmtime::Engine,
        image: &str,
        digest: String,
        artifact: Artifact,
    ) -> Result<Compiled, ImageError> {
        let kind =
            classify(engine, &artifact).map_err(|(shape, reason)| ImageError::Unsupported {
                image: image.to_string(),
                shape,
                reason,
            })?;
        Ok(Compiled {
            digest,
            kind,
            artifact,
        })
    }

    /// `sha256:<hex>` of the Wasm bytes: the container status' `imageID`.
    pub fn image_id(&self) -> String {
        format!("sha256:{}", self.digest)
    }

    /// The sha256 of the Wasm bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// How the node runs this image.
    pub fn kind(&self) -> ModuleKind {
        self.kind
    }
}

fn interface_matches(export: &str, interface: &str) -> bool {
    export == interface
        || export
            .strip_prefix(interface)
            .is_some_and(|rest| rest.starts_with('@'))
}

fn classify(
    engine: &wasmtime::Engine,
    artifact: &Artifact,
) -> Result<ModuleKind, (&'static str, String)> {
    match artifact {
        Artifact::Core(module) => {
            let start = module.get_export("_start");
            match start {
                Some(wasmtime::ExternType::Func(ty))
                    if ty.params().next().is_none() && ty.results().next().is_none() =>
                {
                    Ok(ModuleKind::P1Command)
                }
                Some(_) => Err((
                    "core module",
                    "`_start` is not a function of no parameters and no results".into(),
                )),
                None => Err(("core module", "it exports no `_start` function".into())),
            }
        }
        Artifact::Component(component) => {
            let ty = component.component_type();
            let exports: Vec<String> = ty
                .exports(engine)
                .map(|(name, _)| name.to_string())
                .collect();
            if exports
                .iter()
                .any(|name| interface_matches(name, "wasi:http/incoming-handler"))
            {
                Ok(ModuleKind::HttpProxy)
            } else if exports
                .iter()
                .any(|name| interface_matches(name, "wasi:cli/run"))
            {
                Ok(ModuleKind::P2Command)
            } else {
                Err((
                    "component",
                    if exports.is_empty() {
                        "it exports nothing".to_string()
                    } else {
                        format!("its exports are {}", exports.join(", "))
                    },
                ))
            }
        }
    }
}
