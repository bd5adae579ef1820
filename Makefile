# tix: `make` builds build/tix; `make run` starts it with demo data; `make test` runs every
# test against a build with AddressSanitizer + UndefinedBehaviorSanitizer.

CC      ?= gcc
PKGS    := libmicrohttpd libcjson libsodium sqlite3 libcurl libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lmicrohttpd -lcjson -lsodium -lsqlite3 -lcurl -lpq)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS_COMMON := -std=gnu17 $(WARN) -Isrc $(PKG_CFLAGS) -pthread -D_GNU_SOURCE
LDLIBS  := $(PKG_LIBS) -pthread -lm

RELEASE_FLAGS := -O2 -g
ASAN_FLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
TSAN_FLAGS    := -O1 -g -fsanitize=thread

SRC      := $(shell find src -name '*.c' -o -name '*.S' | sort)
LIB_SRC  := $(filter-out src/cli/main.c,$(SRC))
WEB      := $(shell find web -type f | sort) docs/openapi.json
PG_SQL   := $(shell find src/store/pg/sql -name '*.sql' | sort)
# object of a source file (.c or .S) in a flavour's tree: $(call obj,FLAVOUR,FILES)
obj       = $(patsubst %,build/$(1)/obj/%.o,$(basename $(2)))
UNIT_SRC := $(shell find tests/unit -name '*.c' | sort)
HDRS     := $(shell find src tests/unit -name '*.h')

PYTEST  ?= /usr/bin/python3 -m pytest

JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += --jobs=$(JOBS)
endif

.PHONY: all run test deps browser-deps asan tsan clean format

all: build/tix

# ---- builds: one object tree per flavour ----
define flavour
build/$(1)/obj/%.o: %.c $(HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  CC [$(1)] $$<"
	@$$(CC) $$(CFLAGS_COMMON) $(2) -c $$< -o $$@
# the web pages and docs/openapi.json (src/web/embed.S), and the PostgreSQL backend's SQL
# (src/store/pg/embed.S), embedded with .incbin: rebuilt when one of them changes
build/$(1)/obj/%.o: %.S $(WEB) $(PG_SQL)
	@mkdir -p $$(dir $$@)
	@echo "  AS [$(1)] $$<"
	@$$(CC) -c $$< -o $$@
endef
$(eval $(call flavour,release,$(RELEASE_FLAGS)))
$(eval $(call flavour,asan,$(ASAN_FLAGS)))
$(eval $(call flavour,tsan,$(TSAN_FLAGS)))

build/tix: $(call obj,release,$(SRC))
	@echo "  LD $@"
	@$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LDLIBS)

build/asan/tix: $(call obj,asan,$(SRC))
	@echo "  LD $@"
	@$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build/asan/unit: $(call obj,asan,$(LIB_SRC) $(UNIT_SRC))
	@echo "  LD $@"
	@$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build/tsan/tix: $(call obj,tsan,$(SRC))
	@echo "  LD $@"
	@$(CC) $(TSAN_FLAGS) $^ -o $@ $(LDLIBS)

build/tsan/unit: $(call obj,tsan,$(LIB_SRC) $(UNIT_SRC))
	@echo "  LD $@"
	@$(CC) $(TSAN_FLAGS) $^ -o $@ $(LDLIBS)

asan: build/asan/tix build/asan/unit
tsan: build/tsan/unit

# ---- the README's two commands ----
# deps first, then a fresh make that sees the installed packages
run: deps
	@$(MAKE) --no-print-directory build/tix
	./build/tix seed --data ./tix-data
	./build/tix serve --data ./tix-data

test: deps browser-deps
	@scripts/deps-ops.sh
	@$(MAKE) --no-print-directory build/asan/tix build/asan/unit build/tsan/unit build/tsan/tix fuzz-replay
	@scripts/test.sh

deps:
	@scripts/deps.sh

# chromium, node and npm, and tests/browser's npm packages (npm ci), for the browser tests
browser-deps:
	@scripts/deps-browser.sh

format:
	clang-format -i $(SRC) $(HDRS) $(UNIT_SRC)

clean:
	rm -rf build

# ---- benchmarks: `make bench` (not a test: it measures and reports, never asserts a time) ----
# bench/deps.sh installs wrk and nginx; bench/run.sh runs every scenario on the release build
# and writes bench/results/<date>-<hostname>.md. See README.md, "Benchmarks".
.PHONY: bench bench-deps bench-build

# BASELINE=REV: also measure git revision REV's build, in the same run (rows "tix before")
bench: deps bench-deps
	@$(MAKE) --no-print-directory bench-build
	@if [ -n "$(BASELINE)" ]; then bench/baseline.sh "$(BASELINE)" && \
		BENCH_BASELINE=$(CURDIR)/build/baseline/tix bench/run.sh; else bench/run.sh; fi

bench-deps:
	@bench/deps.sh

# `make bench-pg`: the PostgreSQL scenarios only (hold-pg against pgbench, hold-pg-3 and the
# feed lag; bench/pg.sh), on a durable throwaway cluster; BASELINE=REV as for `make bench`.
.PHONY: bench-pg
bench-pg: deps bench-deps
	@$(MAKE) --no-print-directory bench-build
	@if [ -n "$(BASELINE)" ]; then bench/baseline.sh "$(BASELINE)" && \
		BENCH_BASELINE=$(CURDIR)/build/baseline/tix BENCH_SCENARIOS="hold-pg hold-pg-3" \
		bench/run.sh; else BENCH_SCENARIOS="hold-pg hold-pg-3" bench/run.sh; fi

bench-build: build/tix build/bench/sqlite_bench build/bench/mhd_bench

# `make bench-instructions`: instructions per request under valgrind (a count that does not
# drift with the machine's speed); see bench/instructions.sh and docs/PERFORMANCE.md.
.PHONY: bench-instructions
bench-instructions: deps
	@scripts/install-packages.sh "bench-instructions deps" valgrind wrk curl python3
	@$(MAKE) --no-print-directory build/tix
	@bench/instructions.sh

build/bench/sqlite_bench: bench/sqlite_bench.c
	@mkdir -p $(dir $@)
	@echo "  CC [bench] $<"
	@$(CC) -std=gnu17 $(WARN) -O2 $< -o $@ -lsqlite3

build/bench/mhd_bench: bench/mhd_bench.c
	@mkdir -p $(dir $@)
	@echo "  CC [bench] $<"
	@$(CC) -std=gnu17 $(WARN) -O2 $< -o $@ -lmicrohttpd

# ---- fuzzing: `make fuzz` (libFuzzer + ASan + UBSan, clang) and the replay `make test` runs ----
# One target per parser of outside input, fuzz/fuzz_<name>.c, linked with every src/ file but
# src/cli/main.c. `make fuzz` runs each for FUZZ_SECONDS from its seed corpus fuzz/corpus/<name>/
# (new inputs go to a temp dir; crashers to fuzz/crashers/<name>/). `make test` replays every
# corpus and crasher file through gcc + ASan + UBSan builds (fuzz/replay_main.c), no clang.
.PHONY: fuzz fuzz-deps fuzz-build fuzz-replay

FUZZ_TARGETS := router json_body rfc3339 idempotency_key payment_response utf8 mailer buyer_token
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_HDRS    := $(wildcard fuzz/*.h)
FUZZ_SUPPORT := fuzz/fixture_api.c

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-deps:
	@scripts/deps-fuzz.sh

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz-replay: $(FUZZ_TARGETS:%=build/asan/fuzz-replay-%)

build/fuzz/obj/%.o: %.c $(HDRS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC [fuzz] $<"
	@$(FUZZ_CC) $(CFLAGS_COMMON) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/obj/%.o: %.S $(WEB) $(PG_SQL)
	@mkdir -p $(dir $@)
	@echo "  AS [fuzz] $<"
	@$(FUZZ_CC) -c $< -o $@

build/fuzz/fuzz_%: build/fuzz/obj/fuzz/fuzz_%.o $(FUZZ_SUPPORT:%.c=build/fuzz/obj/%.o) \
                   $(call obj,fuzz,$(LIB_SRC))
	@echo "  LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

$(patsubst %.c,build/asan/obj/%.o,$(wildcard fuzz/*.c)): $(FUZZ_HDRS)
.PRECIOUS: build/fuzz/obj/%.o build/asan/obj/%.o

build/asan/fuzz-replay-%: build/asan/obj/fuzz/fuzz_%.o build/asan/obj/fuzz/replay_main.o \
                          $(FUZZ_SUPPORT:%.c=build/asan/obj/%.o) $(call obj,asan,$(LIB_SRC))
	@echo "  LD $@"
	@$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)
