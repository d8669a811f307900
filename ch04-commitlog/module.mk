# ch04-commitlog: base utilities, mapped files, the CommitLog, flush, recovery.
$(eval $(call rk_chapter,04,ch04-commitlog))
# What the client SDK library (make sdk / make install) takes from this chapter:
# the utilities a client uses, not the store.
RK_SDK_SRCS += $(addprefix ch04-commitlog/src/,buf.c clock.c config.c error.c fileutil.c grow.c hash.c idle_pool.c json.c \
               log.c message.c strmap.c thread.c)
