# ch12-console: the web console, its HTTP/JSON API and /metrics for Prometheus.
$(eval $(call rk_chapter,12,ch12-console))
