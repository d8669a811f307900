# ch09-retry: consume retries with back-off, the dead-letter queue, and the hierarchical timing wheel they ride on.
$(eval $(call rk_chapter,09,ch09-retry))
# The client SDK library: the push consumer's send-back and DLQ hooks.
RK_SDK_SRCS += ch09-retry/src/retry_client.c
RK_SDK_HEADERS += ch09-retry/include/rk/retry_client.h
