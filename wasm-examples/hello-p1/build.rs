// wasm-component-ld, the wasm32-wasip2 linker, would turn the module into a
// p2 component; this example must stay a p1 core module.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi") {
        println!("cargo:rustc-link-arg-cdylib=--skip-wit-component");
    }
}
