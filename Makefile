# pgshift — build, test and install.
# Objects go to build/, with -MMD -MP dependency files; `make V=1` shows commands.

PREFIX  ?= /usr/local
PKGS    := libpq yaml-0.1 lua5.4 libcurl libcrypto libisal
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(CFLAGS) -Iengine $(PKG_CFLAGS)
LIBS       = $(PKG_LIBS) -lpthread -lm

BUILD   := build
SRCS    := $(shell find engine -name '*.c' | sort)
# lua/pgshift.lua is compiled into the binary, so hooks never depend on an install path
LUALIB_C := $(BUILD)/gen/lua_lib.c
LUALIB_O := $(BUILD)/gen/lua_lib.o
OBJS    := $(SRCS:%.c=$(BUILD)/%.o) $(LUALIB_O)
LIBOBJS := $(filter-out $(BUILD)/engine/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
# C tests that need a real server (SOURCE_URI); run by tests/integration/*.t
PGTEST_SRCS := $(wildcard tests/pg/test_*.c)
PGTEST_BINS := $(PGTEST_SRCS:tests/pg/%.c=$(BUILD)/pgtest/%)

DEB_PKGS := build-essential pkg-config libpq-dev libyaml-dev liblua5.4-dev \
            libcurl4-openssl-dev libssl-dev postgresql-15 postgresql-client-15 \
            perl libjson-pp-perl valgrind python3-yaml clang libisal-dev

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all check unit integration asan tsan valgrind fuzz deps have-deps install clean demo bench bench-copy bench-cdc
all: pgshift

pgshift: $(OBJS)
	@echo "LINK $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LUALIB_C): lua/pgshift.lua tools/embed.pl
	@mkdir -p $(dir $@)
	@echo "GEN $@"
	$(Q)perl tools/embed.pl hooks_lua_lib < $< > $@

$(LUALIB_O): $(LUALIB_C)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIBOBJS) $(LIBS)

$(BUILD)/pgtest/%: tests/pg/%.c $(wildcard tests/unit/*.h) $(wildcard tests/pg/*.h) $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -Itests/pg -o $@ $< $(LIBOBJS) $(LIBS)

# Installs what build, tests and demo need on Debian 12 when run as root.
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  if ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS); \
	  fi; \
	else \
	  echo "run as root, or: sudo apt-get install -y $(DEB_PKGS)"; \
	fi

# Test and demo targets never change the machine: they only say what is missing.
have-deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || printf ' %s' $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "missing packages:$$missing"; echo "install them with: make deps (as root)"; exit 1; \
	fi

unit: have-deps
	$(Q)$(MAKE) --no-print-directory pgshift $(UNIT_BINS)
	$(Q)cd tests/unit && prove -e '' $(UNIT_BINS:%=../../%)

integration: have-deps
	$(Q)$(MAKE) --no-print-directory pgshift $(PGTEST_BINS)
	$(Q)prove -j2 tests/integration/

check: have-deps
	$(Q)$(MAKE) --no-print-directory pgshift $(UNIT_BINS) $(PGTEST_BINS)
	$(Q)cd tests/unit && prove -e '' $(UNIT_BINS:%=../../%)
	$(Q)if command -v clang >/dev/null; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS); \
	  else echo "fuzz: clang is not installed, harnesses not run (make deps installs it)"; fi
	$(Q)prove -j2 tests/integration/

asan: have-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=gcc \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build/asan/unit-all
	$(Q)cd tests/unit && ASAN_OPTIONS=detect_leaks=1 prove -e '' ../../build/asan/unit/test_*

# ThreadSanitizer over the unit tests (the scheduler, spool, event bus and
# hook tests run threads).
tsan: have-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan CC=gcc \
	  CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	  build/tsan/unit-all
	$(Q)cd tests/unit && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" prove -e '' ../../build/tsan/unit/test_*

valgrind: have-deps
	$(Q)$(MAKE) --no-print-directory $(UNIT_BINS)
	$(Q)cd tests/unit && prove -e 'valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9' $(UNIT_BINS:%=../../%)

# libFuzzer harnesses (tests/fuzz/) over the engine built with clang, ASan and
# UBSan. Each runs FUZZ_SECONDS on its seeds (tools/fuzz_seeds.pl) plus what
# it found before (build/fuzz/corpus/), after replaying tests/fuzz/regress/:
# every input that once crashed a harness, kept as a test.
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 10
FUZZ_NAMES := plan_load pgoutput spool ddl_message
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
	  $(FUZZ_NAMES:%=build/fuzz/bin/fuzz_%)
	$(Q)rm -rf build/fuzz/seeds && perl tools/fuzz_seeds.pl build/fuzz/seeds
	$(Q)for h in $(FUZZ_NAMES); do \
	  seeds=build/fuzz/seeds/$${h%_load}; corpus=build/fuzz/corpus/$$h; mkdir -p $$corpus build/fuzz/crashes; \
	  if [ -n "$$(ls -A tests/fuzz/regress/$$h 2>/dev/null)" ]; then \
	    build/fuzz/bin/fuzz_$$h tests/fuzz/regress/$$h/* >build/fuzz/$$h.regress.log 2>&1 || \
	    { tail -40 build/fuzz/$$h.regress.log; echo "fuzz_$$h: a kept crash input fails again"; exit 1; }; fi; \
	  build/fuzz/bin/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
	    -artifact_prefix=build/fuzz/crashes/$$h- $$corpus $$seeds >build/fuzz/$$h.log 2>&1 || \
	    { tail -40 build/fuzz/$$h.log; echo "fuzz_$$h: crash; the input is in build/fuzz/crashes/"; exit 1; }; \
	  echo "fuzz_$$h: $$(grep -o 'Done [0-9]* runs' build/fuzz/$$h.log) in $(FUZZ_SECONDS) s, no crash"; \
	done

build/fuzz/bin/fuzz_%: tests/fuzz/fuzz_%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBOBJS) $(LIBS)

$(BUILD)/unit-all: $(UNIT_BINS) $(PGTEST_BINS)
	@touch $@

install: pgshift
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgshift/lua $(DESTDIR)$(PREFIX)/share/pgshift/hooks
	install -m 0755 pgshift $(DESTDIR)$(PREFIX)/bin/pgshift
	for d in lua hooks; do \
	  if [ -n "$$(ls -A $$d 2>/dev/null)" ]; then cp -r $$d/. $(DESTDIR)$(PREFIX)/share/pgshift/$$d/; fi; \
	done

# side by side with pg_dump/pg_restore, pgcopydb and native logical replication
bench: deps pgshift
	$(Q)DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb bc >/dev/null 2>&1 || true
	$(Q)tests/bench/offline_copy.sh $(ROWS)

# issue 20's copy set (pgbench + TOAST-heavy + key-less, ~1.4 GB) against pgcopydb, the raw pipe, pg_dump
bench-copy: deps pgshift
	$(Q)DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb bc >/dev/null 2>&1 || true
	$(Q)tests/bench/copy_compare.sh

bench-cdc: have-deps pgshift
	$(Q)tests/bench/cdc_catchup.sh
	$(Q)tests/bench/cdc_lag.sh

demo: have-deps pgshift
	$(Q)bash examples/quickstart/demo.sh

clean:
	rm -rf $(BUILD) pgshift

-include $(OBJS:.o=.d)
