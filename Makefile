# coldtrace build. Every program lands in build/bin/, objects and dependency files in build/obj/.
# `make` builds, `make check` runs the whole suite, `make demo` shows the product working.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= gcc

PKGS_COMMON := libpq libsodium
PKGS_MQTT   := libmosquitto
PKGS_XML    := libxml-2.0
PKGS_HTTP   := libmicrohttpd
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS_COMMON) $(PKGS_MQTT) $(PKGS_XML) $(PKGS_HTTP) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP \
           -Iservices/common -Iservices/report $(PKG_CFLAGS)
LDLIBS_COMMON := $(shell pkg-config --libs $(PKGS_COMMON) 2>/dev/null) -lm
LDLIBS_MQTT   := $(shell pkg-config --libs $(PKGS_MQTT) 2>/dev/null)
LDLIBS_CRYPTO := $(shell pkg-config --libs libcrypto 2>/dev/null)
LDLIBS_CURL   := $(shell pkg-config --libs libcurl 2>/dev/null)
LDLIBS_XML    := $(shell pkg-config --libs $(PKGS_XML) 2>/dev/null)
LDLIBS_HTTP   := $(shell pkg-config --libs $(PKGS_HTTP) 2>/dev/null)
LDLIBS_BENCH  := $(shell pkg-config --libs libcjson 2>/dev/null) -lpthread

COMMON_SRC := $(wildcard services/common/*.c)
REPORT_SRC := $(wildcard services/report/*.c)
API_SRC    := $(wildcard services/api/*.c)
INGEST_SRC := $(wildcard ingest/*.c)
CLI_SRC    := $(wildcard services/cli/*.c)
SIM_SRC    := $(wildcard contrib/sim/*.c)
MON_SRC    := $(wildcard services/monitor/*.c)
BENCH_SRC  := $(wildcard contrib/bench/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/libcoldtrace-common.a
# Report code is the only code that talks libxml2: its own library, linked by the programs
# that render or import documents.
LIBREPORT := $(BUILD)/libcoldtrace-report.a
PROGRAMS  := $(BUILD)/bin/coldtrace-ingest $(BUILD)/bin/coldtrace $(BUILD)/bin/coldtrace-sim \
             $(BUILD)/bin/coldtrace-monitor $(if $(API_SRC),$(BUILD)/bin/coldtrace-api)
BENCHES   := $(patsubst contrib/bench/%.c,$(BUILD)/bin/%,$(BENCH_SRC))
UNITS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.SECONDARY:
.PHONY: all deps check unit demo bench install clean asan coverage format
all: $(PROGRAMS) $(BENCHES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBREPORT): $(call obj,$(REPORT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/coldtrace-ingest: $(call obj,$(INGEST_SRC)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS_MQTT) $(LDLIBS_COMMON)

$(BUILD)/bin/coldtrace: $(call obj,$(CLI_SRC)) $(LIBREPORT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_XML) $(LDLIBS_COMMON) $(LDLIBS_CRYPTO)

$(BUILD)/bin/coldtrace-api: $(call obj,$(API_SRC)) $(LIBREPORT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_HTTP) $(LDLIBS_XML) $(LDLIBS_COMMON) $(LDLIBS_CRYPTO)

$(BUILD)/bin/coldtrace-monitor: $(call obj,$(MON_SRC)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_MQTT) $(LDLIBS_CURL) $(LDLIBS_COMMON)

$(BUILD)/bin/coldtrace-sim: $(call obj,$(SIM_SRC)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_MQTT) $(LDLIBS_COMMON)

$(BUILD)/bin/%: $(BUILD)/obj/contrib/bench/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_MQTT) $(LDLIBS_COMMON) $(LDLIBS_BENCH)

# reportbench renders reports: the report library and libxml2 besides the common library.
$(BUILD)/bin/reportbench: $(BUILD)/obj/contrib/bench/reportbench.o $(LIBREPORT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_XML) $(LDLIBS_COMMON) $(LDLIBS_CRYPTO)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBREPORT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS_XML) $(LDLIBS_COMMON) $(LDLIBS_CRYPTO)

deps:
	@contrib/deps.sh

unit: $(UNITS)

# The whole suite: unit tests, SQL schema tests and integration tests, each against
# its own throwaway PostgreSQL and mosquitto. Ends with "N passed, N failed".
check: deps
	$(MAKE) all unit
	tests/run

demo: deps
	$(MAKE) all
	contrib/demo.sh

# Issue 3's ingest figures, then the report render, the API beside the ingest and the 1M-lot
# trace; each prints its table and writes its results file under contrib/bench/results/.
bench: deps
	$(MAKE) all
	contrib/bench/run.sh
	contrib/bench/report.sh
	contrib/bench/api.sh
	contrib/bench/trace.sh

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" all unit

coverage:
	$(MAKE) BUILD=build/cov CFLAGS="-O0 -g --coverage" all unit

# Programs, SQL, the sample config, systemd units (paths rewritten for PREFIX/SYSCONFDIR; the
# API's only when it is built), the sysusers.d entry, the OpenAPI document, TLS helpers.
install: SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
install: UNITDIR ?= $(PREFIX)/lib/systemd/system
install: $(PROGRAMS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/coldtrace/sql/migrations \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/coldtrace/examples
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 sql/migrations/*.sql $(DESTDIR)$(PREFIX)/share/coldtrace/sql/migrations/
	install -m 644 sql/*.sql $(DESTDIR)$(PREFIX)/share/coldtrace/sql/
	install -m 644 contrib/coldtrace.conf.sample contrib/systemd/coldtrace.env.sample \
		contrib/nginx/coldtrace-api.conf $(DESTDIR)$(PREFIX)/share/coldtrace/examples/
	install -m 755 contrib/tls/make-certs.sh $(DESTDIR)$(PREFIX)/share/coldtrace/examples/
	install -m 644 contrib/systemd/coldtrace.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/coldtrace.conf
	for u in coldtrace-ingest coldtrace-monitor $(if $(API_SRC),coldtrace-api); do \
		sed -e 's|/usr/bin/|$(PREFIX)/bin/|g' -e 's|/usr/share/coldtrace/|$(PREFIX)/share/coldtrace/|g' \
		    -e 's|/etc/coldtrace/|$(SYSCONFDIR)/coldtrace/|g' contrib/systemd/$$u.service \
		    >$(DESTDIR)$(UNITDIR)/$$u.service && chmod 644 $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done
	for f in $(wildcard services/api/openapi.*); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/coldtrace/ || exit 1; done

# libFuzzer (clang, ASan, UBSan) on the payload parser and EPCIS capture, FUZZ_SECONDS (60)
# each, in build/fuzz; `make check` replays the corpora (tests/integration/test_fuzz_corpus.sh).
.PHONY: fuzz
fuzz:
	BUILD=$(BUILD) tests/fuzz/run.sh fuzz

format:
	clang-format -i $(COMMON_SRC) $(REPORT_SRC) $(API_SRC) $(INGEST_SRC) $(CLI_SRC) $(SIM_SRC) $(MON_SRC) services/common/*.h services/report/*.h ingest/*.h

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
