# ch04-commitlog: base utilities, mapped files, the CommitLog, flush, recovery.
$(eval $(call rk_chapter,04,ch04-commitlog))
