# ch10-delay: delayed messages — RocketMQ's delay levels and any delivery time (timer log + wheel), persistent.
$(eval $(call rk_chapter,10,ch10-delay))
