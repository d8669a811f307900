# ch05-consumequeue: dispatch (reput), consume queues, consumer offsets, message index.
$(eval $(call rk_chapter,05,ch05-consumequeue))
