# Glassbox: `make demo` runs the workbench, `make test` runs the tests (README.md).
# Both install the four system libraries first when they are missing (Debian/Ubuntu).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PACKAGES := libopenblas-dev libpng-dev libjpeg-dev libsndfile1-dev
# The tests also render the demo's report page in a real browser.
TEST_PACKAGES := chromium
VENV := .venv
# Release builds target this machine's CPU: Swift's default x86-64 baseline is SSE2, so the
# engine's elementwise loops (GELU, softmax, LayerNorm) vectorise 4 floats wide; with AVX-512 they
# run ~2.8x faster and a whole KernelSHAP explanation ~10% faster (README, "Speed").
# OpenBLAS already picks its kernels at run time. A plain `swift build -c release` runs anywhere.
NATIVE := -Xswiftc -target-cpu -Xswiftc native
PYTHON := $(VENV)/bin/python

.PHONY: demo test deps testdeps pydeps build bench fixtures fuzz clean sanitize sanitize-address sanitize-thread

demo: deps
	swift build -c release --product glassbox $(NATIVE)
	.build/release/glassbox demo
	@if command -v chromium >/dev/null; then python3 Scripts/check_report.py runs/demo/index.html; fi

test: deps testdeps pydeps
	swift build --build-tests
	GLASSBOX_PYTHON=$(CURDIR)/$(PYTHON) swift test

bench: deps
	swift build -c release --product glassbox $(NATIVE)
	.build/release/glassbox bench

deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

testdeps:
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# numpy + safetensors for the tests that read Swift-written files back in Python.
pydeps: $(PYTHON)
$(PYTHON):
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q numpy safetensors

# The test suite under AddressSanitizer, then ThreadSanitizer, each in its own build folder
# (.build/asan, .build/tsan: about 5 minutes to build each). Swift's crash handler is off: it trips
# the sanitizers. ThreadSanitizer's runtime aborts on this toolchain when the whole suite runs in
# one process, so it runs one test target at a time, and each must run at least one test.
SANITIZER_ENV := SWIFT_BACKTRACE=enable=no GLASSBOX_PYTHON=$(CURDIR)/$(PYTHON)
TEST_TARGETS := EngineTests MediaTests DatasetsTests ModelsTests ProbesTests ExplanationsTests CLITests
sanitize: sanitize-address sanitize-thread

sanitize-address: deps testdeps pydeps
	swift build --build-tests --sanitize=address --scratch-path .build/asan
	$(SANITIZER_ENV) ASAN_OPTIONS=detect_leaks=0 swift test --skip-build --sanitize=address --scratch-path .build/asan

sanitize-thread: deps testdeps pydeps
	swift build --build-tests --sanitize=thread --scratch-path .build/tsan
	@for t in $(TEST_TARGETS); do \
	  echo "== ThreadSanitizer: $$t"; \
	  $(SANITIZER_ENV) TSAN_OPTIONS=halt_on_error=1 swift test --skip-build --sanitize=thread --scratch-path .build/tsan --filter "^$$t\." \
	    > .build/tsan/$$t.log 2>&1; status=$$?; tail -3 .build/tsan/$$t.log; \
	  if [ $$status -ne 0 ] || grep -q "WARNING: ThreadSanitizer" .build/tsan/$$t.log; then echo "$$t: failed (see .build/tsan/$$t.log)"; exit 1; fi; \
	  grep -Eq "(with|Executed) [1-9][0-9]* tests?" .build/tsan/$$t.log || { echo "$$t: no test ran"; exit 1; }; \
	done

# Regenerates the committed reference fixtures (needs torch; not part of `make test`).
fixtures: $(PYTHON)
	$(PYTHON) -m pip install -q torch
	$(PYTHON) Tests/Fixtures/make_fixtures.py

# libFuzzer + AddressSanitizer on every file decoder, FUZZ_SECONDS each (README.md, "Fuzzing").
# A separate package (Fuzzing/), so the normal build never links libFuzzer.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzzing/fuzz.sh

clean:
	rm -rf .build .build-fuzz $(VENV)
