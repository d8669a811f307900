# ch09-retry: consume retries with back-off, the dead-letter queue, and the hierarchical timing wheel they ride on.
$(eval $(call rk_chapter,09,ch09-retry))
