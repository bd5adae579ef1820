# tix: `make` builds build/tix; `make run` starts it with demo data; `make test` runs every
# test against a build with AddressSanitizer + UndefinedBehaviorSanitizer.

CC      ?= gcc
PKGS    := libmicrohttpd libcjson libsodium sqlite3 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lmicrohttpd -lcjson -lsodium -lsqlite3 -lcurl)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS_COMMON := -std=gnu17 $(WARN) -Isrc $(PKG_CFLAGS) -pthread -D_GNU_SOURCE
LDLIBS  := $(PKG_LIBS) -pthread -lm

RELEASE_FLAGS := -O2 -g
ASAN_FLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
TSAN_FLAGS    := -O1 -g -fsanitize=thread

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/cli/main.c,$(SRC))
UNIT_SRC := $(shell find tests/unit -name '*.c' | sort)
HDRS     := $(shell find src tests/unit -name '*.h')

PYTEST  ?= /usr/bin/python3 -m pytest

JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += --jobs=$(JOBS)
endif

.PHONY: all run test deps asan tsan clean format

all: build/tix

# ---- builds: one object tree per flavour ----
define flavour
build/$(1)/obj/%.o: %.c $(HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  CC [$(1)] $$<"
	@$$(CC) $$(CFLAGS_COMMON) $(2) -c $$< -o $$@
endef
$(eval $(call flavour,release,$(RELEASE_FLAGS)))
$(eval $(call flavour,asan,$(ASAN_FLAGS)))
$(eval $(call flavour,tsan,$(TSAN_FLAGS)))

build/tix: $(SRC:%.c=build/release/obj/%.o)
	@echo "  LD $@"
	@$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LDLIBS)

build/asan/tix: $(SRC:%.c=build/asan/obj/%.o)
	@echo "  LD $@"
	@$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build/asan/unit: $(LIB_SRC:%.c=build/asan/obj/%.o) $(UNIT_SRC:%.c=build/asan/obj/%.o)
	@echo "  LD $@"
	@$(CC) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

build/tsan/unit: $(LIB_SRC:%.c=build/tsan/obj/%.o) $(UNIT_SRC:%.c=build/tsan/obj/%.o)
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

test: deps
	@$(MAKE) --no-print-directory build/asan/tix build/asan/unit build/tsan/unit
	@scripts/test.sh

deps:
	@scripts/deps.sh

format:
	clang-format -i $(SRC) $(HDRS) $(UNIT_SRC)

clean:
	rm -rf build
