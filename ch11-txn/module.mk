# ch11-txn: transactional messages — half messages, commit/rollback, check-back.
$(eval $(call rk_chapter,11,ch11-txn))
# The client SDK library: the transactional producer.
RK_SDK_SRCS += ch11-txn/src/txn_producer.c
RK_SDK_HEADERS += ch11-txn/include/rk/txn_producer.h
