"""Runs a WASI p1 command module with wasmtime-py: run_p1.py module.wasm [args...]; a numeric last arg becomes EXIT_CODE."""
import sys, wasmtime
engine = wasmtime.Engine(); store = wasmtime.Store(engine)
cfg = wasmtime.WasiConfig(); cfg.argv = sys.argv[1:]; cfg.env = [["GREETING", "hi there"], ["EXIT_CODE", sys.argv[-1] if sys.argv[-1].isdigit() else "0"]]
cfg.inherit_stdout(); cfg.inherit_stderr(); store.set_wasi(cfg)
linker = wasmtime.Linker(engine); linker.define_wasi()
inst = linker.instantiate(store, wasmtime.Module.from_file(engine, sys.argv[1]))
try: inst.exports(store)["_start"](store); print("[returned]")
except wasmtime.ExitTrap as e: print(f"[exit code {e.code}]"); sys.exit(e.code)
