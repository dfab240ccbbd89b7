"""Runs a WASI p2 command component with wasmtime-py (pip install wasmtime).

usage: run_p2.py [--env K=V]... [--dir HOST::GUEST]... [--mem BYTES] module.wasm [args...]
wasmtime-py cannot allow TCP (its C API has no allow_tcp), so use jco for http-hello/sidecar networking.
"""
import sys, wasmtime
from wasmtime import component as c, _ffi as ffi

args = sys.argv[1:]
env, dirs, mem = [], [], None
while args and args[0].startswith("--"):
    flag, val = args[0], args[1]; args = args[2:]
    if flag == "--env": env.append(val.split("=", 1))
    elif flag == "--dir": dirs.append(val.split("::"))
    elif flag == "--mem": mem = int(val)
path, argv = args[0], args
engine = wasmtime.Engine()
store = wasmtime.Store(engine)
if mem: store.set_limits(memory_size=mem)
cfg = wasmtime.WasiConfig()
cfg.argv = argv; cfg.env = env; cfg.inherit_stdout(); cfg.inherit_stderr()
for h, g in dirs: cfg.preopen_dir(h, g)
ffi.wasi_config_inherit_network(cfg.ptr())
store.set_wasi(cfg)
comp = c.Component.from_file(engine, path)
linker = c.Linker(engine)
linker.add_wasip2()
inst = linker.instantiate(store, comp)
run_iface = next(n for n in ["wasi:cli/run@0.2.0", "wasi:cli/run@0.2.6"] if inst.get_export_index(store, n))
run = inst.get_func(store, inst.get_export_index(store, "run", inst.get_export_index(store, run_iface)))
try:
    r = run(store)
except wasmtime.ExitTrap as e:
    print(f"[exit code {e.code}]", file=sys.stderr); sys.exit(e.code)
except Exception as e:
    print(f"[trap: {e}]", file=sys.stderr); sys.exit(137)
print(f"[run returned {r}]", file=sys.stderr)
sys.exit(0 if r is None or getattr(r, 'tag', 'ok') == 'ok' else 1)
