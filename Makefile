# Petrel — the two commands: `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PETREL_HOME ?= $(CURDIR)/.petrel
export PETREL_HOME

.PHONY: all build release run test interop deps deps-run deps-test migrations fuzz bench clean help

all: build

help:
	@echo "make run     build a release binary and run a local node with its own PostgreSQL under PETREL_HOME (.petrel/)"
	@echo "make test    run every test against a throwaway PostgreSQL (Swift tests, then the interop suite)"
	@echo "make interop only the interop suite: smtplib, imaplib, swaks and smtp-source against a running node"
	@echo "make build   debug build;  make release: release build;  make clean"
	@echo "make bench   release-build benchmarks (docs/benchmarks.md);  make fuzz FUZZ_SECONDS=600: libFuzzer"

deps:
	@scripts/install-deps.sh build
deps-run:
	@scripts/install-deps.sh run
deps-test:
	@scripts/install-deps.sh test

# The binary carries migrations/*.sql (see scripts/embed_migrations.py).
migrations:
	@if command -v python3 >/dev/null; then python3 scripts/embed_migrations.py; fi

build: deps migrations
	$(SWIFT) build

release: deps migrations
	$(SWIFT) build -c release --product petrel

run: deps-run release
	.build/release/petrel dev

# The Swift tests, then the interop suite (scripts/interop.sh: smtplib, imaplib, swaks, smtp-source
# against a running `petrel serve`), on one throwaway PostgreSQL. Both run; either failing fails.
test: deps-test migrations
	$(SWIFT) build --build-tests
	PETREL_BIN="$$($(SWIFT) build --show-bin-path)/petrel" scripts/with-test-postgres.sh \
	  sh -c '$(SWIFT) test --skip-build; status=$$?; scripts/interop.sh || status=1; exit $$status'

# Only the interop suite (Tests/interop), against a debug build of petrel.
interop: deps-test migrations
	$(SWIFT) build --product petrel
	PETREL_BIN="$$($(SWIFT) build --show-bin-path)/petrel" scripts/with-test-postgres.sh scripts/interop.sh

clean:
	rm -rf .build

# Benchmarks (docs/benchmarks.md): release build, throwaway PostgreSQL.
BENCH_LARGE ?= 100000
bench: deps-test
	$(SWIFT) build -c release --product petrel-bench
	scripts/with-test-postgres.sh sh -c 'PETREL_BENCH_DATABASE_URL="$$PETREL_TEST_DATABASE_URL" .build/release/petrel-bench --large $(BENCH_LARGE)'

# libFuzzer over the parsers (docs/fuzzing.md). FUZZ_SECONDS bounds the run.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(SWIFT) build --scratch-path .build-fuzz --product petrel-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DPETREL_FUZZ
	mkdir -p .build-fuzz/corpus
	cp -n Tests/FuzzSeeds/* .build-fuzz/corpus/ 2>/dev/null || true
	.build-fuzz/debug/petrel-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=5 .build-fuzz/corpus
