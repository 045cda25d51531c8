# mcpwarden build.  `make V=1` shows the commands.
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS    := libbpf libsystemd jansson libssl libcrypto libzstd libcurl libcap libpcre2-8
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-truncation
CFLAGS  ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing \
	      -Iinclude -Iagent -Itools -I$(BUILD) $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lelf -lz

# Agent modules; main.c is the daemon's entry point, the rest is a library the tools,
# unit tests and fuzz targets link against.
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
SKELS      := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/tests/%)

PROGRAMS := $(BUILD)/mcpwardend $(BUILD)/mcpwarden $(BUILD)/mcpwarden-replay

all: $(PROGRAMS) $(UNIT_BINS) $(HELPER_BINS) $(BENCH_BINS)

# --- BPF -----------------------------------------------------------------------------------
$(BUILD)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@; \
	else cp bpf/vmlinux.h $@; fi

$(BUILD)/%.bpf.o: bpf/%.bpf.c include/mcpwarden/abi.h $(wildcard bpf/*.h) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_$(ARCH) -D__MW_BPF__ \
		-Iinclude -Ibpf -I$(BUILD) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- agent and tools -----------------------------------------------------------------------
$(BUILD)/agent/loader.o $(BUILD)/fuzz/obj/loader.o: $(SKELS)

$(BUILD)/agent/%.o: agent/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/tools/%.o: tools/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmw.a: $(AGENT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/mcpwardend: $(BUILD)/agent/main.o $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

CLI_OBJS := $(patsubst tools/%.c,$(BUILD)/tools/%.o,\
	    $(filter-out tools/mcpwarden_replay%.c,$(wildcard tools/mcpwarden_*.c)))
REPLAY_OBJS := $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/mcpwarden_replay*.c))

$(BUILD)/mcpwarden: $(BUILD)/tools/mcpwarden.o $(CLI_OBJS) $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mcpwarden-replay: $(REPLAY_OBJS) $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- tests, helpers, benchmarks ------------------------------------------------------------
$(BUILD)/tests/%.o: tests/unit/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-error=unused-function -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/helpers/%.o: tests/helpers/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(HELPER_BINS): $(BUILD)/tests/%: $(BUILD)/tests/helpers/%.o $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%.o: tests/bench/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libmw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lm

# Fuzz targets: the agent library rebuilt with clang, libFuzzer, ASan and UBSan.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	       -std=gnu11 -D_GNU_SOURCE -Iinclude -Iagent -I$(BUILD) $(PKG_CFLAGS)
FUZZ_OBJS := $(AGENT_SRCS:agent/%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: agent/%.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/libmw.a: $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libmw.a
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_BINS)

# `make fuzz-run FUZZ_TIME=600` runs every target for that many seconds on its corpus.
FUZZ_TIME ?= 60
fuzz-run: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; mkdir -p tests/fuzz/corpus/$$n; \
		echo "== $$n ($(FUZZ_TIME)s)"; \
		$$f -max_total_time=$(FUZZ_TIME) -artifact_prefix=tests/fuzz/crashes/$$n- \
			tests/fuzz/corpus/$$n || exit 1; done

# --- top-level jobs ------------------------------------------------------------------------
deps:
	$(Q)tests/deps.sh

test: all fuzz
	$(Q)tests/run.sh

# the journal and masking benchmarks in their quick mode (QUICK=1), the TLS one with one
# repetition; run them alone for the full figures: tests/bench/journal.sh, tests/bench/mask.sh,
# tests/bench/tls.sh
bench: all
	$(Q)tests/bench/run.sh
	$(Q)tests/bench/mcp.sh
	$(Q)QUICK=1 tests/bench/journal.sh
	$(Q)QUICK=1 tests/bench/mask.sh
	$(Q)REPS=1 N=50 SECS=2 tests/bench/tls.sh

# the Debian packages first, then the build (in this order also under -j), then the session
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/systemd/catalog \
		$(DESTDIR)$(PREFIX)/share/mcpwarden $(DESTDIR)/etc/mcpwarden
	install -m 0755 $(BUILD)/mcpwardend $(DESTDIR)$(PREFIX)/sbin/mcpwardend
	install -m 0755 $(BUILD)/mcpwarden $(DESTDIR)$(PREFIX)/bin/mcpwarden
	install -m 0755 $(BUILD)/mcpwarden-replay $(DESTDIR)$(PREFIX)/bin/mcpwarden-replay
	sed 's|@PREFIX@|$(PREFIX)|g' agent/mcpwarden.service > \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/mcpwarden.service
	install -m 0644 agent/mcpwarden.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/mcpwarden.catalog
	install -m 0644 agent/mcpwarden.example.json $(DESTDIR)$(PREFIX)/share/mcpwarden/mcpwarden.example.json

# Removes what install put in place and every BPF pin the agent left behind.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -x $(PREFIX)/sbin/mcpwardend ]; then \
		$(PREFIX)/sbin/mcpwardend --remove-pins; fi
	rm -f $(DESTDIR)$(PREFIX)/sbin/mcpwardend $(DESTDIR)$(PREFIX)/bin/mcpwarden \
		$(DESTDIR)$(PREFIX)/bin/mcpwarden-replay \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/mcpwarden.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/catalog/mcpwarden.catalog
	rm -rf $(DESTDIR)$(PREFIX)/share/mcpwarden

clean:
	rm -rf $(BUILD)

.PHONY: all deps test bench demo install uninstall clean fuzz fuzz-run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
