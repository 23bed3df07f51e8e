# pgshift — build, test and install.
# Objects go to build/, with -MMD -MP dependency files; `make V=1` shows commands.

PREFIX  ?= /usr/local
PKGS    := libpq yaml-0.1 lua5.4 libcurl libcrypto
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(CFLAGS) -Iengine $(PKG_CFLAGS)
LIBS       = $(PKG_LIBS) -lpthread -lm

BUILD   := build
SRCS    := $(shell find engine -name '*.c' | sort)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
LIBOBJS := $(filter-out $(BUILD)/engine/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
PGTEST_SRCS := $(wildcard tests/pg/test_*.c)
PGTEST_BINS := $(PGTEST_SRCS:tests/pg/%.c=$(BUILD)/pgtest/%)

DEB_PKGS := build-essential pkg-config libpq-dev libyaml-dev liblua5.4-dev \
            libcurl4-openssl-dev libssl-dev postgresql-15 postgresql-client-15 \
            perl libjson-pp-perl valgrind

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all check unit integration asan valgrind deps install clean demo
all: pgshift

pgshift: $(OBJS)
	@echo "LINK $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c tests/unit/tap.h $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIBOBJS) $(LIBS)

$(BUILD)/pgtest/%: tests/pg/%.c tests/unit/tap.h $(LIBOBJS)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIBOBJS) $(LIBS)

# Installs what build, tests and demo need on Debian 12 when run as root.
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  if ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS); \
	  fi; \
	else \
	  echo "run as root, or: sudo apt-get install -y $(DEB_PKGS)"; \
	fi

unit: deps
	$(Q)$(MAKE) --no-print-directory pgshift $(UNIT_BINS)
	$(Q)cd tests/unit && prove -e '' $(UNIT_BINS:%=../../%)

integration: deps
	$(Q)$(MAKE) --no-print-directory pgshift $(UNIT_BINS) $(PGTEST_BINS)
	$(Q)prove -j2 tests/integration/

check: deps
	$(Q)$(MAKE) --no-print-directory pgshift $(UNIT_BINS) $(PGTEST_BINS)
	$(Q)cd tests/unit && prove -e '' $(UNIT_BINS:%=../../%)
	$(Q)prove -j2 tests/integration/

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=gcc \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build/asan/unit-all
	$(Q)cd tests/unit && ASAN_OPTIONS=detect_leaks=1 prove -e '' ../../build/asan/unit/test_*

valgrind: deps
	$(Q)$(MAKE) --no-print-directory $(UNIT_BINS)
	$(Q)cd tests/unit && prove -e 'valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9' $(UNIT_BINS:%=../../%)

$(BUILD)/unit-all: $(UNIT_BINS)
	@touch $@

install: pgshift
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgshift/lua $(DESTDIR)$(PREFIX)/share/pgshift/hooks
	install -m 0755 pgshift $(DESTDIR)$(PREFIX)/bin/pgshift
	cp -r lua/. $(DESTDIR)$(PREFIX)/share/pgshift/lua/
	cp -r hooks/. $(DESTDIR)$(PREFIX)/share/pgshift/hooks/

demo: deps pgshift
	$(Q)bash examples/quickstart/demo.sh

clean:
	rm -rf $(BUILD) pgshift

-include $(OBJS:.o=.d)
