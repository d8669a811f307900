# rocklet — one non-recursive Makefile for the whole monorepo.
#
# Every chapter folder has a module.mk that names itself with
#     $(eval $(call rk_chapter,NN,chNN-name))
# and the template below turns its folders into build rules:
#
#   chNN-x/src/*.c      -> build/lib/librkNN.a        (the chapter's library)
#   chNN-x/testkit/*.c  -> build/lib/librkNNtest.a    (helpers for tests, benchmarks, fuzz programs)
#   chNN-x/tools/*.c    -> build/chNN/bin/<name>      (one program per file)
#   chNN-x/bench/*.c    -> build/chNN/bin/<name>      (run by make bench-chNN)
#   chNN-x/fuzz/*.c     -> build/chNN/bin/<name>      (run by make fuzz-chNN)
#   chNN-x/examples/*.c -> build/chNN/bin/<name>      (SDK examples, built by make chNN)
#   chNN-x/tests/*.c    -> build/chNN/test-chNN       (one Criterion binary)
#
# Layering is enforced here: chapter N is compiled with -I for the include
# folders of chapters <= N only, and links the libraries of chapters <= N.
# module.mk files are included in chapter order, so RK_SOFAR grows as we go.
#
# Targets: all, chNN, test, test-chNN, bench-chNN, fuzz, fuzz-chNN, demo,
# demo-chNN, clean, deps. `make test` runs every chapter's tests quietly
# (their output goes to build/chNN/test.log) and ends with one line,
# "N passed, N failed"; `make test-chNN` runs one chapter's tests verbosely.
# Variables: SAN=1 builds everything under AddressSanitizer + UBSan into
# build/san/ and runs the same tests there. FUZZ_SEED, FUZZ_N, FUZZ_ROUNDS:
# see `make fuzz` below.

.DEFAULT_GOAL := all
.SUFFIXES:
SHELL := /bin/bash

ifeq ($(SAN),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
OPT := -O1 -g
else
B := build
SANFLAGS :=
OPT := -O2 -g
endif

CC ?= cc
CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread $(OPT) $(SANFLAGS) \
          -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
LDLIBS := -luv -lcjson -lz -ldeflate -lyaml -lm
TEST_LDLIBS := -lcriterion
# Criterion runs tests in parallel workers; keep it to the machine's cores.
TEST_ARGS ?= --jobs 2
export TEST_ARGS
RK_TEST_ENV := LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp:fast_unwind_on_malloc=0
# make fuzz: the seed of every random choice, how many mutated frames each
# frame fuzzer sends, how many kill -9 rounds. Same seed, same inputs.
FUZZ_SEED ?= 1
FUZZ_N ?= 2000
FUZZ_ROUNDS ?= 10

# Dependencies install themselves the first time a build needs them.
DEPS_STAMP := $(B)/.deps-ok
$(DEPS_STAMP):
	@bash .ci/install-deps
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

# Runs each fuzz program in $(1), one after the other, even after one failed;
# fails if any did.
rk_fuzz_run = rc=0; for f in $(1); do echo "== $$f"; $(RK_TEST_ENV) ./$$f --seed $(FUZZ_SEED) \
	--n $(FUZZ_N) --rounds $(FUZZ_ROUNDS) || rc=1; done; \
	if [ $$rc -ne 0 ]; then echo "make fuzz: FAILED (seed $(FUZZ_SEED); see above)"; fi; exit $$rc

RK_SOFAR :=
RK_ALL_BINS :=
rk_reverse = $(if $(1),$(call rk_reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))

# $(1) = chapter number (04), $(2) = chapter folder (ch04-commitlog), $(3) = the name of
# its targets and build folder (ch04: make ch04, test-ch04, build/ch04/). final/ is unit 99,
# named final (make final, test-final, bench-final, build/final/).
define rk_unit
RK_SOFAR += $(1)
ch$(1)_DIR   := $(2)
ch$(1)_ID    := $(3)
ch$(1)_INC   := $$(foreach n,$$(RK_SOFAR),-I$$(ch$$(n)_DIR)/include)
ch$(1)_SRCS  := $$(sort $$(wildcard $(2)/src/*.c $(2)/src/*/*.c))
ch$(1)_KSRCS := $$(sort $$(wildcard $(2)/testkit/*.c))
ch$(1)_TSRCS := $$(sort $$(wildcard $(2)/tests/*.c))
ch$(1)_TOOLS := $$(sort $$(wildcard $(2)/tools/*.c))
ch$(1)_BENCH := $$(sort $$(wildcard $(2)/bench/*.c))
ch$(1)_FUZZ  := $$(sort $$(wildcard $(2)/fuzz/*.c))
ch$(1)_EXAMPLES := $$(sort $$(wildcard $(2)/examples/*.c))
ch$(1)_OBJS  := $$(patsubst %.c,$(B)/obj/%.o,$$(ch$(1)_SRCS))
ch$(1)_KOBJS := $$(patsubst %.c,$(B)/obj/%.o,$$(ch$(1)_KSRCS))
ch$(1)_TOBJS := $$(patsubst %.c,$(B)/obj/%.o,$$(ch$(1)_TSRCS))
ch$(1)_LIB   := $(B)/lib/librk$(1).a
ch$(1)_KLIB  := $$(if $$(ch$(1)_KSRCS),$(B)/lib/librk$(1)test.a)
ch$(1)_LIBS  := $$(foreach n,$$(call rk_reverse,$$(RK_SOFAR)),$$(ch$$(n)_LIB))
ch$(1)_KLIBS := $$(foreach n,$$(call rk_reverse,$$(RK_SOFAR)),$$(ch$$(n)_KLIB))
ch$(1)_BINS  := $$(patsubst $(2)/tools/%.c,$(B)/$(3)/bin/%,$$(ch$(1)_TOOLS))
ch$(1)_BBINS := $$(patsubst $(2)/bench/%.c,$(B)/$(3)/bin/%,$$(ch$(1)_BENCH))
ch$(1)_FBINS := $$(patsubst $(2)/fuzz/%.c,$(B)/$(3)/bin/%,$$(ch$(1)_FUZZ))
ch$(1)_EBINS := $$(patsubst $(2)/examples/%.c,$(B)/$(3)/bin/%,$$(ch$(1)_EXAMPLES))
ch$(1)_TEST  := $(B)/$(3)/test-$(3)
RK_ALL_BINS  += $$(ch$(1)_BINS)

$$(ch$(1)_OBJS) $$(ch$(1)_KOBJS): RK_INC := $$(ch$(1)_INC)
$(B)/obj/$(2)/tools/%.o $(B)/obj/$(2)/examples/%.o: RK_INC := $$(ch$(1)_INC)
$(B)/obj/$(2)/tests/%.o $(B)/obj/$(2)/fuzz/%.o $(B)/obj/$(2)/bench/%.o: RK_INC := $$(ch$(1)_INC) \
	-DRK_BIN_DIR='"$$(abspath $(B)/$(3)/bin)"' -DRK_SRC_ROOT='"$$(CURDIR)"'

$$(ch$(1)_LIB): $$(ch$(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
ifneq ($$(ch$(1)_KSRCS),)
$$(ch$(1)_KLIB): $$(ch$(1)_KOBJS)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endif

$(B)/$(3)/bin/%: $(B)/obj/$(2)/tools/%.o $$(ch$(1)_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(ch$(1)_LIBS) $$(LDLIBS)
$(B)/$(3)/bin/%: $(B)/obj/$(2)/examples/%.o $$(ch$(1)_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(ch$(1)_LIBS) $$(LDLIBS)
$(B)/$(3)/bin/%: $(B)/obj/$(2)/bench/%.o $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS) $$(LDLIBS)
$(B)/$(3)/bin/%: $(B)/obj/$(2)/fuzz/%.o $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS) $$(LDLIBS)

# The list of test objects, rewritten only when it changes: a test binary is
# relinked when a test file is added or deleted, not only when one changes.
ch$(1)_TLIST := $(B)/$(3)/.test-objs
ifneq ($$(ch$(1)_TSRCS),)
$$(shell mkdir -p $(B)/$(3) && { echo '$$(ch$(1)_TOBJS)' | cmp -s - $$(ch$(1)_TLIST) || \
	echo '$$(ch$(1)_TOBJS)' > $$(ch$(1)_TLIST); })
endif
$$(ch$(1)_TEST): $$(ch$(1)_TOBJS) $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS) $$(ch$(1)_TLIST)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$(ch$(1)_TOBJS) $$(ch$(1)_KLIBS) $$(ch$(1)_LIBS) \
		$$(TEST_LDLIBS) $$(LDLIBS)

.PHONY: $(3) test-$(3) bench-$(3) fuzz-$(3)
$(3): $$(ch$(1)_LIB) $$(ch$(1)_BINS) $$(ch$(1)_EBINS) $$(foreach n,$$(filter-out $(1),$$(RK_SOFAR)),$$(ch$$(n)_ID))
test-$(3): $(3) $$(if $$(ch$(1)_TSRCS),$$(ch$(1)_TEST))
	$$(if $$(ch$(1)_TSRCS),cd $(B)/$(3) && $$(RK_TEST_ENV) ./test-$(3) $$(or $$(TEST_ARGS_$(3)),$$(TEST_ARGS)),@echo "$(3): no tests yet")
bench-$(3): $(3) $$(ch$(1)_BBINS)
	@set -e; for b in $$(ch$(1)_BBINS); do echo "== $$$$b"; ./$$$$b; done
fuzz-$(3): $(3) $$(ch$(1)_FBINS)
	@$$(call rk_fuzz_run,$$(ch$(1)_FBINS))
ifneq ($$(ch$(1)_TSRCS),)
RK_TEST_BINS += $$(ch$(1)_TEST)
RK_TEST_RUN  += --criterion $(3)=$$(ch$(1)_TEST)
endif
RK_FUZZ_BINS += $$(ch$(1)_FBINS)
ifneq ($$(wildcard $(2)/demo.sh),)
RK_DEMO_CH := $(1)
.PHONY: demo-$(3)
demo-$(3): all
	bash $(2)/demo.sh $$(abspath $(B)/bin)
endif
endef
rk_chapter = $(call rk_unit,$(1),$(2),ch$(1))

$(B)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RK_INC) -c -o $@ $<

include $(sort $(wildcard ch[0-9][0-9]-*/module.mk))
-include final/module.mk

# build/bin/NAME is the newest chapter's version of each program: the
# chapters are in order, so the last assignment wins.
$(foreach n,$(RK_SOFAR),$(foreach b,$(ch$(n)_BINS),$(eval RK_LATEST_$(notdir $(b)) := $(b))))
RK_TOOL_NAMES := $(sort $(foreach n,$(RK_SOFAR),$(notdir $(ch$(n)_BINS))))
define rk_bin_copy
$(B)/bin/$(1): $(RK_LATEST_$(1))
	@mkdir -p $$(@D)
	cp $$< $$@.tmp && mv -f $$@.tmp $$@
endef
$(foreach t,$(RK_TOOL_NAMES),$(eval $(call rk_bin_copy,$(t))))
# final's tests run the assembled programs of build/bin, not build/final/bin alone.
test-final: $(addprefix $(B)/bin/,$(RK_TOOL_NAMES))

.PHONY: all test clean deps demo test-conformance install install-sdk install-bin test-install fuzz sdk
# The client SDK as a library of its own: what an application links, nothing
# of the broker or the store. Each chapter's module.mk adds its client-side
# sources to RK_SDK_SRCS and the headers an application includes to
# RK_SDK_HEADERS. Static: $(B)/sdk/librocklet.a (the normal objects). Shared:
# $(B)/sdk/librocklet.so.VERSION, soname librocklet.so.MAJOR, built from a
# second, position-independent compile of the same sources, linked with
# --no-undefined so a missing source fails here and not in an application.
RK_SDK_VERSION := $(shell sed -n 's/^\#define RK_SDK_VERSION "\(.*\)"/\1/p' ch07-client/include/rk/rocklet.h)
RK_SDK_MAJOR := $(firstword $(subst ., ,$(RK_SDK_VERSION)))
RK_SDK_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(RK_SDK_SRCS))
RK_SDK_PICS := $(patsubst %.c,$(B)/pic/%.o,$(RK_SDK_SRCS))
RK_SDK_A := $(B)/sdk/librocklet.a
RK_SDK_SO := $(B)/sdk/librocklet.so.$(RK_SDK_VERSION)
$(foreach n,$(RK_SOFAR),$(eval $(B)/pic/$(ch$(n)_DIR)/%.o: RK_INC := $(ch$(n)_INC)))
$(B)/pic/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=default $(RK_INC) -c -o $@ $<
$(RK_SDK_A): $(RK_SDK_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(RK_SDK_SO): $(RK_SDK_PICS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,librocklet.so.$(RK_SDK_MAJOR) -Wl,--no-undefined -o $@ $^ $(LDLIBS)
	ln -sf librocklet.so.$(RK_SDK_VERSION) $(B)/sdk/librocklet.so.$(RK_SDK_MAJOR)
	ln -sf librocklet.so.$(RK_SDK_MAJOR) $(B)/sdk/librocklet.so
sdk: $(RK_SDK_A) $(RK_SDK_SO)

# make install [PREFIX=/usr/local] [DESTDIR=] = install-sdk + install-bin.
#   install-sdk: lib/librocklet.a, lib/librocklet.so.VERSION (+ .so.MAJOR and .so
#                links), the SDK's public headers under include/rk (the
#                RK_SDK_HEADERS and what they include, found by the compiler),
#                lib/pkgconfig/rocklet.pc;
#   install-bin: the programs (mqnamesrv, mqbroker, mqadmin, ...) in bin/.
PREFIX ?= /usr/local
RK_INC_ALL := $(foreach n,$(RK_SOFAR),-I$(ch$(n)_DIR)/include)
install: install-sdk install-bin
install-sdk: sdk
	@set -e; d="$(DESTDIR)$(PREFIX)"; \
	mkdir -p "$$d/lib/pkgconfig" "$$d/include/rk"; \
	install -m 644 $(RK_SDK_A) "$$d/lib/"; \
	install -m 755 $(RK_SDK_SO) "$$d/lib/"; \
	ln -sf librocklet.so.$(RK_SDK_VERSION) "$$d/lib/librocklet.so.$(RK_SDK_MAJOR)"; \
	ln -sf librocklet.so.$(RK_SDK_MAJOR) "$$d/lib/librocklet.so"; \
	hdrs=$$($(CC) -std=c11 -D_GNU_SOURCE -MM $(RK_INC_ALL) $(RK_SDK_HEADERS) | tr ' \\' '\n\n' | \
	       grep '/include/rk/.*\.h$$' | sort -u); \
	install -m 644 $$hdrs "$$d/include/rk/"; \
	{ echo "prefix=$(PREFIX)"; echo 'libdir=$${prefix}/lib'; echo 'includedir=$${prefix}/include'; echo; \
	  echo 'Name: rocklet'; echo 'Description: rocklet, a RocketMQ-compatible message queue: the C client SDK'; \
	  echo 'Version: $(RK_SDK_VERSION)'; echo 'Requires.private: libuv libcjson zlib libdeflate'; \
	  echo 'Cflags: -I$${includedir} -D_GNU_SOURCE -pthread'; \
	  echo 'Libs: -L$${libdir} -lrocklet -pthread'; \
	  echo 'Libs.private: -luv -lcjson -lz -ldeflate -lm'; } > "$$d/lib/pkgconfig/rocklet.pc"; \
	echo "installed the rocklet SDK $(RK_SDK_VERSION) into $$d: lib/librocklet.a, lib/librocklet.so.$(RK_SDK_VERSION), $$(echo $$hdrs | wc -w) headers in include/rk, lib/pkgconfig/rocklet.pc"
install-bin: all
	@set -e; d="$(DESTDIR)$(PREFIX)"; mkdir -p "$$d/bin"; \
	for t in $(RK_TOOL_NAMES); do install -m 755 $(B)/bin/$$t "$$d/bin/"; done; \
	echo "installed the rocklet programs into $$d/bin: $(RK_TOOL_NAMES)"

# The installed SDK builds a program with pkg-config alone, against the
# shared library (the default) and the static one (pkg-config --static, the
# archive named explicitly); the shared build must need librocklet.so.MAJOR,
# the static one must not, and both must load and run.
test-install: sdk
	@set -e; t=$$(mktemp -d); trap 'rm -rf "$$t"' EXIT; \
	$(MAKE) --no-print-directory install-sdk DESTDIR="$$t" PREFIX=/opt/rocklet >/dev/null; \
	sed -i "s|^prefix=.*|prefix=$$t/opt/rocklet|" "$$t/opt/rocklet/lib/pkgconfig/rocklet.pc"; \
	pc() { PKG_CONFIG_PATH="$$t/opt/rocklet/lib/pkgconfig" pkg-config "$$@" rocklet; }; \
	$(CC) -std=c11 -Wall -Wextra -Werror $(SANFLAGS) -o "$$t/hello-shared" ch07-client/examples/hello.c $$(pc --cflags --libs); \
	$(CC) -std=c11 -Wall -Wextra -Werror $(SANFLAGS) -o "$$t/hello-static" ch07-client/examples/hello.c $$(pc --cflags) \
		$$(pc --static --libs | sed 's/-lrocklet/-l:librocklet.a/'); \
	readelf -d "$$t/hello-shared" | grep -q 'NEEDED.*librocklet.so.$(RK_SDK_MAJOR)' || { echo "test-install: hello-shared does not need librocklet.so.$(RK_SDK_MAJOR)"; exit 1; }; \
	! readelf -d "$$t/hello-static" | grep -q librocklet || { echo "test-install: hello-static needs a shared librocklet"; exit 1; }; \
	for v in shared static; do \
	  rc=0; LD_LIBRARY_PATH="$$t/opt/rocklet/lib" "$$t/hello-$$v" --version > "$$t/out" 2>&1 || rc=$$?; \
	  grep -q "rocklet SDK $(RK_SDK_VERSION)" "$$t/out" || { echo "test-install: hello-$$v did not run (status $$rc):"; cat "$$t/out"; exit 1; }; \
	done; \
	echo "test-install: examples/hello.c builds with pkg-config alone and runs, shared (librocklet.so.$(RK_SDK_MAJOR)) and static"


# An independent RocketMQ 4.x client (ali-ons, npm, version pinned by the
# lock file) producing to and consuming from rocklet; npm ci on first run.
# Chapter 7's acl.sh: ali-ons signs its requests (aclEnable=true). Chapter 8's run:
# its producer keeps sending while the elected master of three replicas is killed
# (kill -9). Chapter 9's run: its consumer fails a message once and gets it again.
# Chapter 10's: delay levels and setStartDeliverTime arrive after their delay.
# final's: the assembled local cluster (two groups of three replicas, the console).
test-conformance: all
	bash ch07-client/conformance/run.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
	bash ch07-client/conformance/acl.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
	bash ch08-ha/conformance/run.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
	bash ch09-retry/conformance/run.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
	bash ch10-delay/conformance/run.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
	bash final/conformance/run.sh $(abspath $(B)/bin) $(abspath $(B)/conformance)
all: $(foreach n,$(RK_SOFAR),$(ch$(n)_ID)) $(addprefix $(B)/bin/,$(RK_TOOL_NAMES)) sdk
# Every chapter's Criterion tests, the SDK install check and the conformance
# test, one after the other (.ci/run-tests): one line each, the failures'
# output, and last "N passed, N failed" (each Criterion test, test-install
# and the conformance test count one each). Exit status 1 if any failed.
test: all $(RK_TEST_BINS)
	@$(RK_TEST_ENV) python3 .ci/run-tests $(RK_TEST_RUN) \
	  --step 'test-install=$(B)/test-install.log=$(MAKE) --no-print-directory test-install' \
	  --step 'conformance=$(B)/conformance/test.log=$(MAKE) --no-print-directory test-conformance'
# Fuzzing and kill -9 rounds against the real programs (chNN-x/fuzz/*.c), bounded
# and reproducible: make fuzz [FUZZ_SEED=1] [FUZZ_N=2000] [FUZZ_ROUNDS=10].
# Each program prints its seed and counts, and how to reproduce a failure.
fuzz: all $(RK_FUZZ_BINS)
	@$(call rk_fuzz_run,$(RK_FUZZ_BINS))
# The main job: the demo of the furthest chapter that has one (chNN-x/demo.sh,
# given build/bin, the newest version of every program).
demo: all
	bash $(ch$(RK_DEMO_CH)_DIR)/demo.sh $(abspath $(B)/bin)
clean:
	rm -rf build

# Objects made on the way to a program (tools, benches, fuzz targets) are kept, not deleted as
# intermediates. Not .SECONDARY with no names: that makes every target intermediate, and then
# a library is not rebuilt when a new source file is older than it (an object it lists is
# missing, yet make calls the library up to date).
.PRECIOUS: $(B)/obj/%.o
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
