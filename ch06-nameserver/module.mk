# ch06-nameserver: the remoting layer (RocketMQ's frames on libuv) and the name server.
$(eval $(call rk_chapter,06,ch06-nameserver))
