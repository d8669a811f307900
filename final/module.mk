# final: the assembled programs (every chapter's modules), the local cluster and its tests.
# Unit 99 of the build, named "final": make final, test-final, bench-final, build/final/.
$(eval $(call rk_unit,99,final,final))
# Each test starts a whole cluster (8 processes): one test at a time, or two clusters and the
# sanitizers on two cores starve the elections' heartbeats and measure the machine, not rocklet.
TEST_ARGS_final ?= --jobs 1
export TEST_ARGS_final

# The local cluster (final/conf/local: two name servers, two broker groups of three
# replicas electing their masters, the console), under build/cluster. See final/README.md.
.PHONY: run status stop kill-master pause-master
run: all
	@bash final/cluster.sh run
status:
	@bash final/cluster.sh status
stop:
	@bash final/cluster.sh stop
kill-master:
	@bash final/cluster.sh kill-master "$(GROUP)"
pause-master:
	@bash final/cluster.sh pause-master "$(GROUP)"

# make bench-vs [QUICK=1]: rocklet (one broker, ASYNC_FLUSH, and a name server from build/bin)
# against Redis without persistence and NATS JetStream on this machine, interleaved in one run
# (final/vs/bench-vs.sh; README "Against Redis and NATS"). The peers are Debian packages
# (.ci/install-deps installs them); their two small clients are built only when pkg-config finds
# hiredis and libnats, and a peer that is missing is a skipped row, never a failed build. CI does
# not run it: it measures the machine, it tests nothing.
RK_VS_BINS := $(if $(shell pkg-config --exists hiredis 2>/dev/null && echo y),$(B)/vs/vs_redis) \
              $(if $(shell pkg-config --exists libnats 2>/dev/null && echo y),$(B)/vs/vs_nats) \
              $(B)/vs/vs_jitter $(B)/vs/vs_diskwrite
$(B)/vs/vs_jitter: final/vs/vs_jitter.c final/vs/vs_common.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)
$(B)/vs/vs_diskwrite: final/vs/vs_diskwrite.c final/vs/vs_common.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)
$(B)/vs/vs_redis: final/vs/vs_redis.c final/vs/vs_common.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $$(pkg-config --cflags hiredis) -o $@ $< $(LDFLAGS) $$(pkg-config --libs hiredis)
$(B)/vs/vs_nats: final/vs/vs_nats.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $$(pkg-config --cflags libnats) -o $@ $< $(LDFLAGS) $$(pkg-config --libs libnats)
.PHONY: bench-vs
bench-vs: all $(RK_VS_BINS)
	@nice -n 5 bash final/vs/bench-vs.sh $(abspath $(B)/bin) $(abspath $(B)/vs) $(if $(QUICK),--quick)
