# The two quick-start commands (README.md):
#   make demo   build, then run what Hourglass can do end to end today
#   make test   build, then run the whole suite through ctest: unit and
#               integration tests, the benchmark smoke run, and, in a
#               clang ASan+UBSan build, the ipc tests and the fuzz smoke runs
# Both install missing Debian packages first (idempotent).

.PHONY: all deps build test test-default test-asan demo bench bench-worker chaos fuzz format clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake --preset default > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
	@cmake --build --preset default

test: test-default test-asan

test-default: build
	ctest --preset default

test-asan: deps
	@cmake --preset asan > build-asan.configure.log 2>&1 || { cat build-asan.configure.log; exit 1; }
	@cmake --build --preset asan
	ctest --preset asan

demo: build
	@./scripts/demo.sh

# Full benchmark run; its figures go to BENCHMARKS.md.
bench: build
	./build/bin/ipc_roundtrip_bench --benchmark_min_time=2

# Hourglass's worker against the official TS SDK worker (BENCHMARKS.md):
# make bench-worker BENCH_WORKER_ARGS="-n 500 --rounds 1"
BENCH_WORKER_ARGS ?=
bench-worker: build
	./bench/worker_vs_ts/run.sh $(BENCH_WORKER_ARGS)

# The full chaos soak (BENCHMARKS.md, "Chaos soak"): 10,000 kitchen-sink
# workflows over 10 minutes while processes of the tree are SIGKILLed; the
# short run is the ctest chaos_soak_short. Another run:
# make chaos CHAOS_ARGS="--workflows 2000 --duration-s 120 --seed 2"
CHAOS_ARGS ?= --workflows 10000 --duration-s 600
chaos: build
	./build/bin/chaos_soak $(CHAOS_ARGS)

# A longer fuzz run: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 300
fuzz: deps
	@cmake --preset asan > build-asan.configure.log 2>&1 || { cat build-asan.configure.log; exit 1; }
	@cmake --build --preset asan
	cd build-asan && HOURGLASS_FUZZ_SECONDS=$(FUZZ_SECONDS) ctest -L fuzz --output-on-failure

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build.configure.log build-asan.configure.log
