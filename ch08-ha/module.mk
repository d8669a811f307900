# ch08-ha: commitlog replication master -> slave (HAService), SYNC/ASYNC masters, slaves' metadata sync.
$(eval $(call rk_chapter,08,ch08-ha))
