# ch11-txn: transactional messages — half messages, commit/rollback, check-back.
$(eval $(call rk_chapter,11,ch11-txn))
