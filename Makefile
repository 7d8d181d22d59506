# Inlet. `make run` and `make test` are the two entry points (see README).
# Everything under src/ except src/main.c forms libinlet.a; build/inlet is
# main.c on top. The sanitizer build (ASan+UBSan) lives in build/asan/.

CC      := gcc
PKGS    := libmicrohttpd sqlite3 libcrypto json-c libargon2 libzstd zlib libbrotlidec libcurl hiredis libpq
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) -Isrc -Ibuild/gen $(PKG_CFLAGS) -MMD -MP

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
GEN_SRC  := build/gen/assets.c
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
# The dashboard's built files (make web) and the client script ride along.
ASSETS   := docs/openapi.json web/inlet.js $(sort $(shell find web/dist -type f 2>/dev/null))

O      := build/obj
OA     := build/asan/obj
LIB    := build/libinlet.a
LIBA   := build/asan/libinlet.a

LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o) $(O)/gen/assets.o
LIBA_OBJ := $(LIB_SRC:%.c=$(OA)/%.o) $(OA)/gen/assets.o
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNITA_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

.PHONY: all asan deps run test unit fuzz lint bench web clean format
all: build/inlet

deps:
	@bash scripts/deps.sh build

build/inlet: $(O)/src/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/inlet: $(OA)/src/main.o $(LIBA)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

asan: build/asan/inlet

$(LIB): $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^
$(LIBA): $(LIBA_OBJ)
	@rm -f $@; ar rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(OA)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
$(O)/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(OA)/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# Static files compiled into the binary (the OpenAPI document now, the
# dashboard later), through a small generator of our own.
build/tools/embed: scripts/embed.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -O1 -o $@ $<
build/gen/assets.c: build/tools/embed $(ASSETS) build/gen/assets.list
	@mkdir -p $(@D)
	build/tools/embed $@ $(ASSETS)
# Rewritten only when the set of files changes, so a removed file also
# regenerates assets.c.
build/gen/assets.list: FORCE
	@mkdir -p $(@D)
	@echo '$(ASSETS)' | cmp -s - $@ || echo '$(ASSETS)' > $@
FORCE:

# Unit tests: cmocka, linked against the same library as the binary.
build/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(PKG_LIBS) -lcmocka
build/asan/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(LIBA) $(PKG_LIBS) -lcmocka

unit: $(UNIT_BIN) $(UNITA_BIN)

run:
	@bash scripts/deps.sh build
	@$(MAKE) --no-print-directory build/inlet
	@bash scripts/run.sh

test:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory -j2 build/inlet build/asan/inlet unit
	@bash scripts/test.sh

# libFuzzer drivers, one per parser; bounded time each (FUZZ_SECONDS).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@bash scripts/deps.sh fuzz
	@bash scripts/fuzz.sh $(FUZZ_SRC)

lint:
	@bash scripts/lint.sh

bench:
	@bash scripts/deps.sh bench
	@$(MAKE) --no-print-directory build/inlet
	@bash bench/ingest
	@bash bench/events
	@bash bench/cluster

# The dashboard: web/src built by esbuild into web/dist (committed, so the
# C build needs no node); npm ci first when esbuild is not installed.
web:
	@[ -d node_modules/esbuild ] || npm ci --no-audit --no-fund
	node web/build.mjs

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(LIBA_OBJ:.o=.d) $(O)/src/main.d $(OA)/src/main.d
