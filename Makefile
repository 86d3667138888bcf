# Switchboard developer commands. `make help` lists them.
#
#   make run    PostgreSQL up, console and binary built, demo data seeded, server on :8080
#   make test   everything CI checks, in CI's order (.ci/run calls this)
#
# GNU make. Recipes run in bash with -eu -o pipefail; targets run one after another.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
.SUFFIXES:

# One build cache for everyone on a shared machine: /work/target when /work is writable,
# else ./target. Set CARGO_TARGET_DIR yourself to override.
ifeq ($(strip $(CARGO_TARGET_DIR)),)
CARGO_TARGET_DIR := $(shell if [ -d /work ] && [ -w /work ]; then echo /work/target; else echo "$(CURDIR)/target"; fi)
endif
export CARGO_TARGET_DIR

CARGO ?= cargo
NPM   ?= npm
BIN   := $(CARGO_TARGET_DIR)/debug/switchboard

# Prints a phase banner with the wall-clock time.
banner = @printf '\n==> [%s] %s\n' "$$(date +%H:%M:%S)" "$(1)"

# Local services, as on the development and CI machines (Debian, PostgreSQL 15, Redis 7).
PG_HOST    := 127.0.0.1
REDIS_PORT := 6379

# The console's sources; web/dist is rebuilt when any of them is newer.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) \
               $(wildcard web/index.html web/package.json web/tsconfig*.json web/vite.config.*)
# npm keeps this file in step with every install (npm ci included).
WEB_STAMP   := web/node_modules/.package-lock.json

.PHONY: help run test services postgres redis web web-check build fmt fmt-check clippy \
        test-rust test-browser clean-test-dbs loadtests-setup bench-sim

help: ## Show this list
	@echo "Switchboard — make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN { FS = ":.*## " } { printf "  make %-15s %s\n", $$1, $$2 }'
	@echo
	@echo "CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)"

# ---------------------------------------------------------------------------------------------
# Running

SIM_BIND ?= 127.0.0.1:4010

run: postgres web build ## Start PostgreSQL if needed, build console and binary, seed the demo, start the simulator, serve on :8080
	$(call banner,seeding the demo workspaces and the simulator's demo account)
	@export LOG_FORMAT="$${LOG_FORMAT:-pretty}" BIND="$${BIND:-127.0.0.1:8080}"; \
	  url="$${PUBLIC_URL:-http://localhost:$${BIND##*:}}"; export PUBLIC_URL="$$url"; \
	  inbound=$$("$(BIN)" seed --demo --simulator "http://$(SIM_BIND)" | tee /dev/stderr | sed -n 's/^SIM_INBOUND_URL=//p'); \
	  echo "==> Twilio-compatible simulator on http://$(SIM_BIND) (replies go to the demo workspace)"; \
	  "$(BIN)" sim --bind "$(SIM_BIND)" --inbound-url "$$inbound" --text-rate 0.05 --stop-rate 0.01 & sim=$$!; \
	  trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	  echo; \
	  echo "Open $${url%/} — sign in as owner@demo.test / switchboard-demo"; \
	  echo "(API docs at $${url%/}/api/docs; Ctrl-C stops the server and the simulator)"; \
	  echo; \
	  "$(BIN)" serve

# ---------------------------------------------------------------------------------------------
# Services: started only when they are down. A DATABASE_URL naming another host is yours to run.

services: postgres redis ## Start PostgreSQL and Redis when they are down

postgres:
	@case "$${DATABASE_URL:-}" in \
	  "" | *@127.0.0.1[:/]* | *@localhost[:/]* | *//127.0.0.1[:/]* | *//localhost[:/]*) ;; \
	  *) echo "DATABASE_URL points elsewhere; not managing a local PostgreSQL"; exit 0 ;; \
	esac; \
	if pg_isready -q -h $(PG_HOST) 2>/dev/null; then exit 0; fi; \
	if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing PostgreSQL (apt-get install -y postgresql)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y postgresql || { apt-get update && apt-get install -y postgresql; }; \
	    echo "==> letting local TCP connections in without a password (development machine)"; \
	    sed -i -E 's/^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1\/32|::1\/128)[[:space:]]+)[a-z0-9-]+/\1trust/' \
	      /etc/postgresql/*/main/pg_hba.conf; \
	  else \
	    echo "PostgreSQL is not running on $(PG_HOST):5432 and is not installed."; \
	    echo "Install PostgreSQL 15+ (Debian: apt-get install postgresql) and start it, or set"; \
	    echo "DATABASE_URL=postgres://user@host:5432/switchboard to use one that runs elsewhere."; \
	    exit 1; \
	  fi; \
	fi; \
	version="$$(ls /etc/postgresql | sort -V | tail -n1)"; \
	echo "==> starting PostgreSQL $$version"; \
	pg_ctlcluster --skip-systemctl-redirect "$$version" main start || true; \
	for _ in $$(seq 30); do pg_isready -q -h $(PG_HOST) && exit 0; sleep 1; done; \
	echo "PostgreSQL did not come up; see /var/log/postgresql/postgresql-$$version-main.log"; exit 1

redis:
	@redis_up() { \
	  if command -v redis-cli >/dev/null; then redis-cli -h 127.0.0.1 -p $(REDIS_PORT) ping >/dev/null 2>&1; \
	  else (exec 3<>/dev/tcp/127.0.0.1/$(REDIS_PORT)) 2>/dev/null; fi; \
	}; \
	if redis_up; then exit 0; fi; \
	if ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing Redis (apt-get install -y redis-server)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y redis-server || { apt-get update && apt-get install -y redis-server; }; \
	  else \
	    echo "Redis is not running on 127.0.0.1:$(REDIS_PORT) and is not installed."; \
	    echo "Install Redis 7 (Debian: apt-get install redis-server); the tests need it."; \
	    exit 1; \
	  fi; \
	fi; \
	echo "==> starting Redis"; \
	redis-server --daemonize yes --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no; \
	for _ in $$(seq 20); do redis_up && exit 0; sleep 0.5; done; \
	echo "Redis did not come up on 127.0.0.1:$(REDIS_PORT)"; exit 1

# ---------------------------------------------------------------------------------------------
# Building

# `npm ci` only when node_modules is missing or package-lock.json changed since the last install.
$(WEB_STAMP): web/package-lock.json
	$(call banner,installing the console's packages (npm ci))
	cd web && $(NPM) ci --no-audit --no-fund
	touch $@

web/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	$(call banner,building the console (web/dist))
	cd web && $(NPM) run build

web: web/dist/index.html ## Build the console into web/dist (npm ci when needed)

# The console's own checks beyond the build (typecheck, lint, unit tests), when package.json defines them.
web-check: $(WEB_STAMP)
	@cd web && for script in typecheck lint test; do \
	  if node -e "process.exit(require('./package.json').scripts?.[process.argv[1]] ? 0 : 1)" "$$script"; then \
	    printf '\n==> [%s] web: npm run %s\n' "$$(date +%H:%M:%S)" "$$script"; \
	    $(NPM) run "$$script"; \
	  fi; \
	done

build: ## Build the switchboard binary (debug profile, shared with the tests)
	$(call banner,cargo build)
	$(CARGO) build --bin switchboard

fmt: ## Format the Rust code
	$(CARGO) fmt --all

# ---------------------------------------------------------------------------------------------
# Testing: the order CI uses; cheap checks first.

test: services fmt-check clippy web web-check test-rust test-browser ## Everything CI checks (fmt, clippy, console, Rust and browser tests)
	$(call banner,all checks passed)

fmt-check:
	@if $(CARGO) fmt --version >/dev/null 2>&1; then \
	  printf '\n==> [%s] cargo fmt --check\n' "$$(date +%H:%M:%S)"; \
	  $(CARGO) fmt --all --check; \
	else echo "rustfmt is not installed; skipping the format check"; fi

clippy:
	@if $(CARGO) clippy --version >/dev/null 2>&1; then \
	  printf '\n==> [%s] cargo clippy\n' "$$(date +%H:%M:%S)"; \
	  $(CARGO) clippy --workspace --all-targets -- -D warnings; \
	else echo "clippy is not installed; skipping lints"; fi

# The official Twilio Python library (venv) and Twilio's OpenAPI spec (npm) that the agreement
# tests (tests/twilio_official.rs, tests/twilio_spec.rs) read; both scripts are no-ops when set up.
loadtests-setup: ## Venv with twilio==9.13.0 and Twilio's OpenAPI spec (npm ci) for the agreement tests
	$(call banner,loadtests setup (Python venv, Twilio spec))
	bash loadtests/official/setup.sh
	bash loadtests/spec/setup.sh

bench-sim: ## Simulator bare capacity with wrk; updates docs/benchmarks.md
	loadtests/bench-sim.sh

test-rust: services loadtests-setup ## Rust unit and integration tests (nextest when installed)
	$(call banner,cargo build --workspace)
	$(CARGO) build --workspace
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  printf '\n==> [%s] cargo nextest run\n' "$$(date +%H:%M:%S)"; \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	  printf '\n==> [%s] doc tests\n' "$$(date +%H:%M:%S)"; \
	  $(CARGO) test --workspace --doc; \
	else \
	  printf '\n==> [%s] cargo test (cargo-nextest is not installed)\n' "$$(date +%H:%M:%S)"; \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi

test-browser: services web build ## Browser tests (Chromium via playwright-core) against the debug binary
	$(call banner,browser tests)
	cd tests/browser && $(NPM) ci --no-audit --no-fund && $(NPM) test

clean-test-dbs: ## Drop leftover test databases (sb_test_*, sb_browser_*); not while tests run
	@psql -h $(PG_HOST) -U postgres -d postgres -Atc \
	  "SELECT datname FROM pg_database WHERE datname LIKE 'sb\_test\_%' OR datname LIKE 'sb\_browser\_%'" | \
	while read -r db; do \
	  echo "dropping $$db"; \
	  psql -h $(PG_HOST) -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$$db\" WITH (FORCE)"; \
	done
