# The GC window: pulls served while `registry garbage-collect` runs (read-only pods).
.PHONY: bench-gc-window

bench-gc-window: $(VENV)/.installed seaweedfs ## GC window on real registries (simulated Service): failed pulls, push-refused s, GC s
	$(PY) benchmarks/bench_gc_window.py
