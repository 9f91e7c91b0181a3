# villagesync — `make` alone prints this help.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GOFILES := $(shell find server agentapp syncproto migrations -name '*.go' -not -path '*/testdata/*')

.DEFAULT_GOAL := help
.PHONY: help run test bench bench-quick bench-go soak lint build db-start db-stop pg-install fuzz

help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/server and bin/agentapp, version stamped
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/server ./server
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/agentapp ./agentapp

run: pg-install build ## start a local PostgreSQL (unless DATABASE_URL is set), migrate, load the demo district, serve on 127.0.0.1:8080
	./bin/server dev

test: pg-install lint ## lint, then every test against a real PostgreSQL and real SQLite files
	$(GO) test -count=1 -timeout 15m ./...

bench: pg-install ## one table of figures, each against a baseline measured in the same run (about 2 min)
	$(GO) run ./server/internal/proving/cmd/vsbench

bench-quick: pg-install ## the same table at smoke size (about 20 s)
	$(GO) run ./server/internal/proving/cmd/vsbench -quick

bench-go: pg-install ## the packages' own go test benchmarks (roster import, cut, bootstrap, dashboard…)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 3x ./...

soak: pg-install ## 200 tablets for 60 s against one server, then the long fault tests; prints p50/p99 latencies
	$(GO) test -count=1 -tags soak -timeout 40m -v ./server/internal/faults

fuzz: ## run every fuzz target for a while (FUZZTIME, default 30s each)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; \
	done

lint: ## gofmt check and go vet
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags soak ./server/internal/faults

db-start: pg-install ## start the local PostgreSQL cluster under .data/pg (kept between runs)
	$(GO) run ./server db-start

db-stop: ## stop the local PostgreSQL cluster
	$(GO) run ./server db-stop

# PostgreSQL must be installed; on Debian it is installed here, without the
# distribution's own cluster (this project starts its own).
pg-install:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "PostgreSQL not found: installing it with apt-get"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO mkdir -p /etc/postgresql-common; \
	  echo 'create_main_cluster = false' | $$SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q -o Dpkg::Options::=--force-confold postgresql; \
	fi
