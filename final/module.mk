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
