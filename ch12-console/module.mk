# ch12-console: the web console, its HTTP/JSON API and /metrics for Prometheus.
$(eval $(call rk_chapter,12,ch12-console))
# mqconsole serves HTTP through libh2o (Debian's libh2o-dev, built on libuv): only this
# chapter's programs link it.
$(B)/ch12/bin/%: LDLIBS += -lh2o
