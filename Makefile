# contactcentre: `make help` lists the targets. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

TOOLS_BIN := $(CURDIR)/.tools/bin
# Pinned tools first, then our binaries; Go itself may live only in /usr/local/go/bin.
export PATH := $(TOOLS_BIN):$(CURDIR)/bin:$(PATH):/usr/local/go/bin

GO ?= go
FUZZTIME ?= 10s
GO_TEST_FLAGS ?=

# ---- pinned tools: bump a version here (one edit); its stamp changes, so it is reinstalled ----
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
SQLC_VERSION               := v1.31.1
GOLANGCI_LINT_VERSION      := v2.15.0
STRIPE_MOCK_VERSION        := v0.203.0
GRPCURL_VERSION            := v1.9.4
GHZ_VERSION                := v0.93.0
TOXIPROXY_VERSION          := v2.12.0

# tool(NAME, PACKAGE, VERSION): .tools/bin/NAME is installed with `go install PACKAGE@VERSION`.
# The stamp .tools/bin/.NAME-VERSION is the version marker: a bump creates a new stamp (and
# removes the old ones), which is newer than the binary, so the binary is rebuilt. A binary
# already built from that exact module version (per `go version -m`) is kept, not rebuilt.
define tool
$(TOOLS_BIN)/$(1): $(TOOLS_BIN)/.$(1)-$(3)
	@if $(GO) version -m $$@ 2>/dev/null | grep -E '^[[:space:]]+mod[[:space:]]+[^[:space:]]+[[:space:]]+$(3)([[:space:]]|$$$$)' >/dev/null; then \
	  touch $$@; \
	else \
	  echo "installing $(1) $(3)"; \
	  GOBIN=$(TOOLS_BIN) GOFLAGS= $(GO) install $(2)@$(3); \
	  touch $$@; \
	fi
$(TOOLS_BIN)/.$(1)-$(3):
	@mkdir -p $(TOOLS_BIN)
	@rm -f $(TOOLS_BIN)/.$(1)-*
	@touch $$@
endef

$(eval $(call tool,buf,github.com/bufbuild/buf/cmd/buf,$(BUF_VERSION)))
$(eval $(call tool,protoc-gen-go,google.golang.org/protobuf/cmd/protoc-gen-go,$(PROTOC_GEN_GO_VERSION)))
$(eval $(call tool,protoc-gen-go-grpc,google.golang.org/grpc/cmd/protoc-gen-go-grpc,$(PROTOC_GEN_GO_GRPC_VERSION)))
$(eval $(call tool,sqlc,github.com/sqlc-dev/sqlc/cmd/sqlc,$(SQLC_VERSION)))
$(eval $(call tool,golangci-lint,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION)))
$(eval $(call tool,stripe-mock,github.com/stripe/stripe-mock,$(STRIPE_MOCK_VERSION)))
$(eval $(call tool,grpcurl,github.com/fullstorydev/grpcurl/cmd/grpcurl,$(GRPCURL_VERSION)))
$(eval $(call tool,ghz,github.com/bojand/ghz/cmd/ghz,$(GHZ_VERSION)))
# toxiproxy's server command installs as .tools/bin/server (the fault test runs it).
$(eval $(call tool,server,github.com/Shopify/toxiproxy/v2/cmd/server,$(TOXIPROXY_VERSION)))

GEN_TOOLS  := $(addprefix $(TOOLS_BIN)/,buf protoc-gen-go protoc-gen-go-grpc sqlc)
LINT_TOOLS := $(addprefix $(TOOLS_BIN)/,buf golangci-lint)
# What `make test` needs: generation, lint, and stripe-mock for tests that talk to it.
TEST_TOOLS := $(GEN_TOOLS) $(LINT_TOOLS) $(TOOLS_BIN)/stripe-mock
# ...and toxiproxy for the fault test (internal/bootstrap/faulttest).
TEST_TOOLS += $(TOOLS_BIN)/server
ALL_TOOLS  := $(TEST_TOOLS) $(addprefix $(TOOLS_BIN)/,grpcurl ghz)

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} \
	  /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5); next} \
	  /^[a-zA-Z0-9_\/.-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo

.PHONY: tools
tools: $(ALL_TOOLS) ## Install the pinned tools into .tools/bin (go install)

.PHONY: test-tools
test-tools: $(TEST_TOOLS) ## Install only the tools make test needs

##@ Build and generate

.PHONY: build
build: ## Build bin/supportsvc, bin/ordersvc, bin/ccctl
	$(GO) build -o bin/ ./cmd/...

.PHONY: generate
generate: $(GEN_TOOLS) ## Regenerate gRPC code (buf) and SQL code (sqlc)
	buf generate
	sqlc generate

.PHONY: check-generate
check-generate: $(GEN_TOOLS) ## Fail if generated code (internal/gen, *.sql.go) is stale
	@bash scripts/check-generate.sh

##@ Quality

.PHONY: lint
lint: $(LINT_TOOLS) ## go vet, golangci-lint, buf lint, buf format
	$(GO) vet ./...
	golangci-lint run ./...
	buf lint
	buf format -d --exit-code

# The database tests' command: TEST_DATABASE_URL is the server scripts/db.sh found or started.
define go_test_db
@url=$$(bash scripts/db.sh up test | tail -n 1); \
  echo "TEST_DATABASE_URL=$${url%%\?*}"; \
  TEST_DATABASE_URL=$$url $(GO) test -race -shuffle=on -count=1 $(GO_TEST_FLAGS) ./...
endef

.PHONY: test
test: test-tools db/up deploy/validate check-generate lint ## THE check (README, CI): generate-check, lint, every test with -race on a real PostgreSQL
	$(go_test_db)

# Same flags as go_test_db, so the race build is cached for the full run that follows.
.PHONY: deploy/validate
deploy/validate: ## Render the kustomize overlays and validate every manifest (deploy/manifests_test.go)
	$(GO) test -race -count=1 ./deploy/

.PHONY: test-db
test-db: db/up ## Every test with -race on a real PostgreSQL, without lint and generate-check
	$(go_test_db)

.PHONY: test-short
test-short: ## Unit tests only (-short: no database)
	$(GO) test -short -count=1 $(GO_TEST_FLAGS) ./...

.PHONY: fuzz
fuzz: ## Run every Fuzz* function for FUZZTIME each (default 10s)
	@pkgs=$$($(GO) list ./...); n=0; \
	for pkg in $$pkgs; do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg); \
	  for fn in $$(grep -E '^Fuzz' <<<"$$list" || true); do \
	    echo "== $$pkg $$fn ($(FUZZTIME))"; n=$$((n+1)); \
	    $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done; \
	echo "fuzz: $$n fuzz targets ran for $(FUZZTIME) each"

.PHONY: breaking
breaking: $(TOOLS_BIN)/buf ## Check proto changes for breaking changes against the main branch
	buf breaking --against '.git#branch=main'

.PHONY: bench
bench: build tools ## Load-test the services against their baselines (scripts/bench.sh)
	$(GO) build -o bin/ ./bench/baregrpc
	bash scripts/bench.sh
	bash scripts/bench-reporting.sh

##@ Database

.PHONY: db/up
db/up: ## Ensure a PostgreSQL (TEST_DATABASE_URL, :5432, or a private cluster in .data/pg); print its URL
	@bash scripts/db.sh up test

.PHONY: db/down
db/down: ## Stop the private cluster in .data/pg (if running)
	@bash scripts/db.sh down

.PHONY: db/reset
db/reset: ## Stop the private cluster and delete .data/pg
	@bash scripts/db.sh reset

.PHONY: migrate
migrate: build ## Apply migrations to DATABASE_URL (ccctl migrate up)
	@if [[ -z "$${DATABASE_URL:-}" ]]; then echo "migrate: set DATABASE_URL (make run chooses one: see .data/dev.env)" >&2; exit 2; fi
	ccctl migrate up

##@ Run

.PHONY: run
run: ## Start PostgreSQL, stripe-mock, both services and demo data; Ctrl-C stops all
	@bash scripts/run.sh

.PHONY: clean
clean: ## Remove bin/ and test caches (keeps .tools and .data; see db/reset)
	rm -rf bin/
	$(GO) clean -testcache
