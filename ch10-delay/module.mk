# ch10-delay: delayed messages — RocketMQ's delay levels and any delivery time (timer log + wheel), persistent.
$(eval $(call rk_chapter,10,ch10-delay))
# The client SDK library: the delay API (a level, a time, a relative delay).
RK_SDK_SRCS += ch10-delay/src/delay_client.c
RK_SDK_HEADERS += ch10-delay/include/rk/delay_client.h
