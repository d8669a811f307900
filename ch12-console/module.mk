# ch12-console: the web console, its HTTP/JSON API and /metrics for Prometheus.
$(eval $(call rk_chapter,12,ch12-console))
# mqconsole serves HTTP through libh2o (Debian's libh2o-dev, built on libuv): only this
# chapter's programs link it.
$(B)/ch12/bin/%: LDLIBS += -lh2o
# The front end (web/: Vue 3, Element Plus, ECharts, built with Vite) goes to web/dist, which
# mqconsole serves; web/build.sh builds it when node and npm are installed and says so when not.
.PHONY: ch12-web
ch12: ch12-web
ch12-web:
	@bash ch12-console/web/build.sh
