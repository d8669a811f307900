# final: the assembled programs (every chapter's modules), the local cluster and its tests.
# Unit 99 of the build, named "final": make final, test-final, bench-final, build/final/.
$(eval $(call rk_unit,99,final,final))

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
